/**
 * A full disk, for real: the executor's log path (run logs and the results' journal) on a tmpfs of 3 MiB,
 * mounted by the test (as root; skipped, with the reason, otherwise). One run logs 200,000 lines and fills it;
 * the runs after it must still report their results, and when space returns (the volume grows, or the big log
 * is deleted) their logs must be written, and a new run's log must be there within a second, whatever the
 * big run still holds back. (Which backlog goes first, shortest first in chunks, is tested on a store that
 * fails on demand, in joblog.test.ts: here the space that returns is enough for any order.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Job } from "../src/index.js"
import { MockAdmin } from "../src/testing.js"
import { waitUntil } from "./helpers/wait.js"

const Flood = Job.make({
  name: "flood",
  params: Schema.NumberFromString,
  run: (lines) =>
    Effect.gen(function*() {
      for (let i = 1; i <= lines; i++) yield* Effect.log(`flood line ${i} ${"x".repeat(40)}`)
      return `logged ${lines}`
    })
})

const Small = Job.make({
  name: "small",
  run: Effect.gen(function*() {
    const { logId } = yield* Job.JobContext
    yield* Effect.log(`small run ${logId} was here`)
    return "small"
  })
})

const jobs = Job.registry(Flood, Small)

/** Why a tmpfs cannot be mounted here, or undefined when it can. */
const cannotMount = ((): string | undefined => {
  if (process.getuid?.() !== 0) return "mounting a tmpfs needs root"
  const probe = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-tmpfs-probe-"))
  try {
    ChildProcess.execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { stdio: "pipe" })
    ChildProcess.execFileSync("umount", [probe], { stdio: "pipe" })
    return undefined
  } catch (error) {
    return `mount -t tmpfs failed here (${String(error).split("\n")[0]})`
  } finally {
    Fs.rmSync(probe, { recursive: true, force: true })
  }
})()

/** A tmpfs of `size` mounted on a directory of the test's own, unmounted and removed after. */
const smallDisk = (size: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const path = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-fulldisk-"))
      ChildProcess.execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", path])
      return path
    }),
    (path) =>
      Effect.sync(() => {
        ChildProcess.execFileSync("umount", ["-l", path])
        Fs.rmSync(path, { recursive: true, force: true })
      })
  )

/** Whether a run's log, as the admin reads it, has `text`. */
const logHas = (admin: MockAdmin.Service, logId: number, text: string) =>
  admin.log(logId, 1).pipe(
    Effect.map((page) => page.logContent.includes(text)),
    Effect.orElseSucceed(() => false)
  )

/** Fills the disk with one run's log, then runs 20 small jobs on the full disk: every result comes. */
const fillThenRunSmall = (admin: MockAdmin.Service) =>
  Effect.gen(function*() {
    const flood = yield* admin.run({ handler: "flood", params: "200000", jobId: 1 })
    assert.strictEqual(flood.result.handleCode, 200)
    const small: Array<number> = []
    for (let i = 0; i < 20; i++) {
      const { result, triggered } = yield* admin.run({ handler: "small", jobId: 2 + i })
      assert.strictEqual(result.handleCode, 200)
      small.push(triggered.logId)
    }
    // The disk is full: at least the last small run's log could not be written.
    assert.isFalse(yield* logHas(admin, small[19], `small run ${small[19]} was here`))
    return { flood: flood.triggered, small }
  })

/** Once space returns: the small runs' logs are written, and a new run's log is there within a second. */
const logsComeBack = (admin: MockAdmin.Service, small: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    yield* waitUntil(
      "the small runs' logs",
      Effect.map(
        Effect.forEach(small, (logId) => logHas(admin, logId, `small run ${logId} was here`)),
        (all) => all.every(Boolean)
      ),
      10_000
    )
    const fresh = yield* admin.run({ handler: "small", jobId: 30 })
    const ran = Date.now()
    yield* waitUntil(
      "a new run's log",
      logHas(admin, fresh.triggered.logId, `small run ${fresh.triggered.logId} was here`),
      1000
    )
    assert.isBelow(Date.now() - ran, 1000)
  })

/** An executor and its admin over HTTP, with the executor's log path on `disk`, for `test`'s time. */
const onExecutor = <A, E>(disk: string, test: (admin: MockAdmin.Service) => Effect.Effect<A, E>) =>
  Effect.flatMap(MockAdmin.MockAdmin, test).pipe(
    Effect.provide(MockAdmin.layerHttp(jobs, { logPath: disk, logRetentionDays: 0 }))
  )

describe.skipIf(cannotMount !== undefined)(
  `a full log disk${cannotMount === undefined ? "" : ` (skipped: ${cannotMount})`}`,
  () => {
    it.scopedLive(
      "the volume grows: the logs held back are written",
      () =>
        Effect.gen(function*() {
          const disk = yield* smallDisk("3m")
          yield* onExecutor(disk, (admin) =>
            Effect.gen(function*() {
              const { small } = yield* fillThenRunSmall(admin)
              ChildProcess.execFileSync("mount", ["-o", "remount,size=64m", disk])
              yield* logsComeBack(admin, small)
            }))
        }),
      60_000
    )

    it.scopedLive(
      "the big log is deleted: the small runs' logs are written, whatever the big run still holds back",
      () =>
        Effect.gen(function*() {
          const disk = yield* smallDisk("3m")
          yield* onExecutor(disk, (admin) =>
            Effect.gen(function*() {
              const { flood, small } = yield* fillThenRunSmall(admin)
              const day = Fs.readdirSync(disk).find((name) => /^\d{4}-\d{2}-\d{2}$/.test(name))!
              Fs.rmSync(Path.join(disk, day, `${flood.logId}.log`))
              yield* logsComeBack(admin, small)
            }))
        }),
      60_000
    )
  }
)
