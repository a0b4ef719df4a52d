/**
 * The stdout mirror of run logs (`runLogStdout` / `XXL_JOB_EXECUTOR_RUN_LOG_STDOUT`): each line of a run's log
 * printed as one structured line in the executor's log format, off by default.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { ExecutorConfig, Job } from "../src/index.js"
import * as Messages from "../src/internal/messages.js"
import * as RunLogStdout from "../src/internal/runLogStdout.js"
import { MockAdmin } from "../src/testing.js"

const date = new Date("2025-01-31T08:00:00.000Z")

/** The lines a mirror writes, once the event loop has turned. */
const mirrored = (format: "text" | "logfmt" | "json", lines: ReadonlyArray<[string, string]>) =>
  Effect.gen(function*() {
    const written: Array<string> = []
    const mirror = (yield* RunLogStdout.make(format, (text) => written.push(text))).forRun(7, 1234, "nightly report")
    for (const [level, message] of lines) mirror(date, level, message)
    assert.deepStrictEqual(written, [], "written a turn later, in one write")
    yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
    assert.strictEqual(written.length, 1)
    return written[0].split("\n").slice(0, -1)
  }).pipe(Effect.scoped)

describe("RunLogStdout", () => {
  const lines: ReadonlyArray<[string, string]> = [
    ["INFO", Messages.logStart("day=3")],
    ["WARN", "a \"quoted\" line\n  and its second line"],
    ["ERROR", Messages.logEnd(500, "no rows")]
  ]

  it.live("json: Effect's json logger's shape, the run in its annotations", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* mirrored("json", lines), [
        "{\"message\":\"xxl-job job execute start | Param:day=3\",\"logLevel\":\"INFO\",\"timestamp\":\"2025-01-31T08:00:00.000Z\",\"annotations\":{\"jobId\":7,\"logId\":1234,\"handler\":\"nightly report\"}}",
        "{\"message\":\"a \\\"quoted\\\" line\\n  and its second line\",\"logLevel\":\"WARN\",\"timestamp\":\"2025-01-31T08:00:00.000Z\",\"annotations\":{\"jobId\":7,\"logId\":1234,\"handler\":\"nightly report\"}}",
        "{\"message\":\"xxl-job job execute end(finish) | Result: handleCode=500, handleMsg = no rows\",\"logLevel\":\"ERROR\",\"timestamp\":\"2025-01-31T08:00:00.000Z\",\"annotations\":{\"jobId\":7,\"logId\":1234,\"handler\":\"nightly report\"}}"
      ])
    }))

  it.live("logfmt: Effect's logfmt logger's keys, values quoted when they must be", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* mirrored("logfmt", lines), [
        "timestamp=2025-01-31T08:00:00.000Z level=INFO message=\"xxl-job job execute start | Param:day=3\" jobId=7 logId=1234 handler=\"nightly report\"",
        "timestamp=2025-01-31T08:00:00.000Z level=WARN message=\"a \\\"quoted\\\" line\\n  and its second line\" jobId=7 logId=1234 handler=\"nightly report\"",
        "timestamp=2025-01-31T08:00:00.000Z level=ERROR message=\"xxl-job job execute end(finish) | Result: handleCode=500, handleMsg = no rows\" jobId=7 logId=1234 handler=\"nightly report\""
      ])
    }))

  it.live("text: one line a person reads, line breaks as \\n", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* mirrored("text", lines), [
        "2025-01-31T08:00:00.000Z INFO [nightly report jobId=7 logId=1234] xxl-job job execute start | Param:day=3",
        "2025-01-31T08:00:00.000Z WARN [nightly report jobId=7 logId=1234] a \"quoted\" line\\n  and its second line",
        "2025-01-31T08:00:00.000Z ERROR [nightly report jobId=7 logId=1234] xxl-job job execute end(finish) | Result: handleCode=500, handleMsg = no rows"
      ])
    }))

  it.live("what has gathered is written when the scope closes", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      yield* Effect.scoped(Effect.map(
        RunLogStdout.make("text", (text) => written.push(text)),
        (stdout) => stdout.forRun(1, 2, "h")(date, "INFO", "last words")
      ))
      assert.deepStrictEqual(written, ["2025-01-31T08:00:00.000Z INFO [h jobId=1 logId=2] last words\n"])
    }))
})

/** What the executor prints to stdout while `effect` runs. */
const capturingStdout = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const printed: Array<string> = []
    const original = process.stdout.write
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.stdout.write = ((chunk: string | Uint8Array) => {
          printed.push(String(chunk))
          return true
        }) as typeof process.stdout.write
      }),
      () => Effect.sync(() => process.stdout.write = original)
    )
    yield* effect
    return printed.join("").split("\n").filter((line) => line.includes("\"annotations\":{\"jobId\""))
  })

const Report = Job.make({
  name: "report",
  run: Effect.gen(function*() {
    const context = yield* Job.JobContext
    yield* Effect.logWarning("3 rows skipped")
    context.logRaw("raw output")
    return "42 rows"
  })
})
const jobs = Job.registry(Report)

describe("an executor with runLogStdout", () => {
  it.scopedLive("prints the start marker, the job's lines and the end marker of each run, in order", () =>
    Effect.gen(function*() {
      const printed = yield* capturingStdout(
        Effect.gen(function*() {
          const admin = yield* MockAdmin.MockAdmin
          yield* admin.run({ handler: "report", jobId: 3, logId: 301 })
          yield* Effect.sleep("20 millis")
        }).pipe(Effect.provide(MockAdmin.layer(jobs, { runLogStdout: "on", logFormat: "json" })))
      )
      const parsed = printed.map((line) => JSON.parse(line))
      assert.deepStrictEqual(parsed.map((line) => [line.logLevel, line.message]), [
        ["INFO", "xxl-job job execute start | Param:"],
        ["WARN", "3 rows skipped"],
        ["INFO", "raw output"],
        ["INFO", "xxl-job job execute end(finish) | Result: handleCode=200, handleMsg = 42 rows"]
      ])
      for (const line of parsed) assert.deepStrictEqual(line.annotations, { jobId: 3, logId: 301, handler: "report" })
    }))

  it.scopedLive("prints nothing of the runs when off (the default)", () =>
    Effect.gen(function*() {
      const printed = yield* capturingStdout(
        Effect.gen(function*() {
          const admin = yield* MockAdmin.MockAdmin
          yield* admin.run({ handler: "report", jobId: 3, logId: 302 })
          yield* Effect.sleep("20 millis")
        }).pipe(Effect.provide(MockAdmin.layer(jobs, { logFormat: "json" })))
      )
      assert.deepStrictEqual(printed, [])
    }))

  it.effect("XXL_JOB_EXECUTOR_RUN_LOG_STDOUT: on or off, anything else refused naming it", () =>
    Effect.gen(function*() {
      const fromEnv = (value: string) =>
        ExecutorConfig.fromEnv().pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["XXL_JOB_EXECUTOR_RUN_LOG_STDOUT", value]])))
        )
      assert.isTrue((yield* fromEnv("on")).runLogStdout)
      assert.isFalse((yield* fromEnv("off")).runLogStdout)
      assert.isFalse((yield* ExecutorConfig.make()).runLogStdout)
      const wrong = yield* Effect.flip(fromEnv("yes"))
      assert.strictEqual(wrong.message, "XXL_JOB_EXECUTOR_RUN_LOG_STDOUT: expected \"on\" or \"off\", got \"yes\"")
      const inCode = yield* Effect.flip(ExecutorConfig.make({ runLogStdout: "yes" as "on" }))
      assert.strictEqual(inCode.message, "runLogStdout: expected \"on\" or \"off\", got \"yes\"")
    }))
})
