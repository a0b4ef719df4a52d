/**
 * The file run log store, Java's layout: `{logPath}/{yyyy-MM-dd}/{logId}.log`, UTF-8, one entry per line (an
 * entry with newlines takes several), and the retention rule that deletes day folders older than
 * `logRetentionDays` (off below 3, as in Java). Appends go to a writer thread of their own (see
 * `appendThread`); `/log` pages come from a line index (see `lineIndex`), so a page costs the same anywhere
 * in a large log.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import type { LogKey, Store } from "../JobLog.js"
import { LogResult } from "../Wire.js"
import * as AppendThread from "./appendThread.js"
import { JobLogError } from "./jobLogError.js"
import * as LineIndex from "./lineIndex.js"
import { dayOf, notFound, pageMaxBytes } from "./logLines.js"

// Plain concatenation: `root` is absolute and normalised, the rest is built from numbers (Path.join showed
// in the profile).
const pathOf = (root: string, key: LogKey, dayShift = 0) =>
  `${root}${Path.sep}${dayOf(key.logDateTime + dayShift * 86_400_000)}${Path.sep}${key.logId}.log`

const isMissing = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { code?: unknown }).code === "ENOENT"

/**
 * A file store rooted at `logPath`; `pageMaxBytes` bounds a page. `closeFiles` closes the files the writer
 * thread keeps open (before the retention sweep deletes folders).
 */
export const make = (
  logPath: string,
  options: { readonly pageMaxBytes?: number } = {}
): Effect.Effect<Store & { readonly closeFiles: Effect.Effect<void> }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const root = Path.resolve(logPath)
    const maxBytes = options.pageMaxBytes ?? pageMaxBytes
    const appender = yield* Effect.acquireRelease(
      Effect.sync(() => AppendThread.make()),
      (appender) => Effect.promise(appender.close)
    )
    const indexes = LineIndex.makeIndexes()
    return {
      write: (batch) =>
        Effect.suspend(() => {
          const writes = batch.map(({ key, text }): AppendThread.Write => [pathOf(root, key), text])
          return Effect.flatMap(Effect.promise(() => appender.write(writes)), (failed) => {
            if (failed.length === 0) return Effect.void
            // The thread answers with each failed append's path; its key is the batch's with that path.
            const keyOf = new Map(writes.map(([path], i) => [path, batch[i].key]))
            const [path, , message] = failed[0]
            return Effect.fail(
              new JobLogError({
                operation: "write",
                cause: new Error(`${path}: ${message}${failed.length > 1 ? ` (and ${failed.length - 1} more)` : ""}`),
                unwritten: failed.map(([path, text]) => ({ key: keyOf.get(path)!, text }))
              })
            )
          })
        }),
      read: (key, fromLineNum) =>
        Effect.promise(async () => {
          // The admin passes the trigger time re-read from its database at second precision; a run
          // triggered in the last instant of a day may have been rounded into the next one.
          for (const shift of [0, -1]) {
            const found = await indexes.read(pathOf(root, key, shift), fromLineNum, maxBytes)
            if (found === undefined) continue
            return new LogResult({
              fromLineNum,
              toLineNum: found.text === "" ? found.lines : found.to,
              logContent: found.text,
              isEnd: false
            })
          }
          return notFound(fromLineNum)
        }),
      closeFiles: Effect.promise(appender.closeFiles)
    }
  })

const dayFolder = /^\d{4}-\d{2}-\d{2}$/

/**
 * Deletes the day folders under `logPath` older than `retentionDays` days before `now` (3.3+ rule: a folder
 * goes when today is past its day plus the retention). Below 3 days nothing is deleted.
 */
export const cleanup = (logPath: string, retentionDays: number, now: Date): Effect.Effect<ReadonlyArray<string>> =>
  Effect.promise(async () => {
    if (retentionDays < 3) return []
    const today = Date.parse(dayOf(now.getTime()))
    let names: Array<string>
    try {
      names = await Fs.readdir(logPath)
    } catch (error) {
      if (isMissing(error)) return []
      throw error
    }
    const removed: Array<string> = []
    for (const name of names) {
      if (!dayFolder.test(name)) continue
      const day = Date.parse(name)
      if (Number.isNaN(day) || today <= day + retentionDays * 86_400_000) continue
      await Fs.rm(Path.join(logPath, name), { recursive: true, force: true })
      removed.push(name)
    }
    return removed
  })
