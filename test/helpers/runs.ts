/**
 * Helpers for tests that watch runs from outside: a run's log as the admin reads it, waiting for a line in
 * it, and whether a process a run started is still there.
 */
import { Duration, Effect } from "effect"
import * as Fs from "node:fs"
import type { MockAdmin } from "../../src/testing.js"

/** The whole log of a run, as the admin's log view reads it. */
export const logOf = (admin: MockAdmin.Service, logId: number) =>
  Effect.map(admin.log(logId, 1), (page) => page.logContent)

/** Polls the run's log until it holds `text` (or matches it), for up to 10 s; the match. */
export const waitForLog = (admin: MockAdmin.Service, logId: number, text: string | RegExp) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 10_000
    for (;;) {
      const log = yield* logOf(admin, logId)
      const match = typeof text === "string" ? (log.includes(text) ? [text] : null) : text.exec(log)
      if (match !== null) return match
      if (Date.now() > deadline) return yield* Effect.dieMessage(`the log of ${logId} never had ${text}`)
      yield* Effect.sleep(Duration.millis(10))
    }
  })

/** Is the process there (a zombie is not: it has ended, only its parent has not looked yet)? */
export const alive = (pid: number): boolean => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return false
  }
}

/** Waits until none of `pids` is alive (5 s at most); the ones still alive then. */
export const survivors = (pids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 5_000
    while (pids.some(alive) && Date.now() < deadline) yield* Effect.sleep(Duration.millis(20))
    return pids.filter(alive)
  })
