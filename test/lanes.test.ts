/**
 * The lanes, in process with the TestClock: block strategies, timeout, kill, handler change, limits and
 * idle retirement, with no real sleeping.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, Logger, LogLevel, Schema, TestClock } from "effect"
import { Job } from "../src/index.js"
import * as Messages from "../src/internal/messages.js"
import { MockAdmin } from "../src/testing.js"
import * as Engine from "./helpers/engine.js"

/** What the jobs did, in order: "start:<logId>", "end:<logId>", "cleanup:<logId>". */
const events: Array<string> = []

const Sleep = Job.make({
  name: "sleep",
  params: Schema.NumberFromString,
  run: (seconds) =>
    Effect.gen(function*() {
      const { logId } = yield* Job.JobContext
      events.push(`start:${logId}`)
      yield* Effect.sleep(Duration.seconds(seconds))
      events.push(`end:${logId}`)
      return `slept ${seconds}`
    })
})

/** Sleeps, and takes 5 s to clean up when interrupted (an uninterruptible finalizer). */
const SlowCleanup = Job.make({
  name: "slowCleanup",
  run: Effect.gen(function*() {
    const { logId } = yield* Job.JobContext
    events.push(`start:${logId}`)
    yield* Effect.sleep(Duration.seconds(100))
  }).pipe(
    Effect.onInterrupt(() =>
      Effect.gen(function*() {
        const { logId } = yield* Job.JobContext
        yield* Effect.sleep(Duration.seconds(5))
        events.push(`cleanup:${logId}`)
      })
    )
  )
})

const Other = Job.make({ name: "other", run: Effect.succeed("other ran") })
const Long = Job.make({ name: "long", run: Effect.succeed("x".repeat(60_000)) })
const Throws = Job.make({
  name: "throws",
  run: Effect.sync(() => {
    throw new Error("kaboom")
  })
})
const NoCode = Job.make({ name: "noCode", run: Effect.fail(new Job.JobFailed({ message: "x", code: 0 })) })
const Rejects = Job.make({ name: "rejects", run: Effect.promise(() => Promise.reject(new Error("rejected promise"))) })
const Typed = Job.make({
  name: "typed",
  params: Schema.parseJson(Schema.Struct({ n: Schema.Int })),
  run: ({ n }) => Effect.succeed(`n=${n}`)
})

/** Logs at two levels, with an annotation, from the run and from a fiber the run forks. */
const Chatty = Job.make({
  name: "chatty",
  run: Effect.gen(function*() {
    yield* Effect.logInfo("hello from the run").pipe(Effect.annotateLogs("step", 1))
    yield* Effect.logWarning("careful")
    yield* Effect.fork(Effect.log("from a child fiber")).pipe(Effect.flatMap(Fiber.join))
    yield* Effect.log("inside a span").pipe(Effect.withLogSpan("loading"))
    // Code that is not an Effect (a callback) logs through the context's plain function.
    const { log } = yield* Job.JobContext
    yield* Effect.sync(() => [1, 2].forEach((n) => log(`callback ${n}`)))
    return "chatted"
  })
})

class Extra extends Context.Tag("test/Extra")<Extra, string>() {}

/**
 * Looks at the context its run starts with, and provides a service of its own on top of it (which copies
 * that context): the run's services must read, iterate and copy as a plain context does.
 */
const Services = Job.make({
  name: "services",
  run: Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    const keys = [...context.unsafeMap.keys()]
    const { logId } = yield* Effect.provideService(
      Effect.zipRight(Extra, Job.JobContext),
      Extra,
      "extra"
    )
    const extra = yield* Effect.provideService(Extra, Extra, "extra")
    return [
      keys.includes(Job.JobContext.key),
      keys.length === context.unsafeMap.size,
      new Set(keys).size === keys.length,
      logId,
      extra
    ].join(",")
  })
})

/** An async function that ignores its AbortSignal: it sleeps (in real time) as long as its params say. */
const Stubborn = Job.fromPromise({
  name: "stubborn",
  run: async ({ logId, params }) => {
    events.push(`start:${logId}`)
    if (params === "forever") await new Promise(() => {})
    await new Promise((resolve) => setTimeout(resolve, Number(params)))
    events.push(`end:${logId}`)
    return "done"
  }
})

/** Real time, for the functions above (the test's clock is the TestClock). */
const realSleep = (millis: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, millis)))

const jobs = Job.registry(Stubborn, Sleep, SlowCleanup, Other, Long, Throws, Rejects, Typed, NoCode, Chatty, Services)
const TestEnv = MockAdmin.layer(jobs, { queueLimit: 3, laneIdleSeconds: 60 })

const reset = Effect.sync(() => {
  events.length = 0
})

describe("lanes", () => {
  it.effect("a run's Effect.log calls land in its own log, with level and annotations, and nowhere else", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { result } = yield* admin.run({ handler: "chatty", jobId: 90, logId: 900 })
      assert.strictEqual(result.handleCode, 200)
      const other = yield* admin.run({ handler: "other", jobId: 91, logId: 901 })
      assert.strictEqual(other.result.handleCode, 200)
      const log = (yield* admin.log(900)).logContent
      assert.match(log, /\[chatty\]-\[INFO\]-\[#\d+\] hello from the run step=1\n/)
      assert.match(log, /\[chatty\]-\[WARN\]-\[#\d+\] careful\n/)
      assert.match(log, /from a child fiber\n/)
      assert.match(log, /inside a span loading=\d+ms\n/)
      assert.match(log, /\[chatty\]-\[INFO\]-\[job-90\] callback 1\n.*callback 2\n/)
      const otherLog = (yield* admin.log(901)).logContent
      assert.notInclude(otherLog, "hello")
      assert.notInclude(otherLog, "child fiber")
    }).pipe(Effect.provide(TestEnv)))

  it.effect("a run's services read, iterate and copy as a context does", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { result } = yield* admin.run({ handler: "services", jobId: 93, logId: 930 })
      assert.strictEqual(result.handleMsg, "true,true,true,930,extra")
    }).pipe(Effect.provide(TestEnv)))

  it.effect("a run's log keeps its Info lines when the executor's own minimum level is Warning", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.run({ handler: "chatty", jobId: 92, logId: 920 })
      const log = (yield* admin.log(920)).logContent
      assert.include(log, "hello from the run step=1")
      assert.include(log, "from a child fiber")
    }).pipe(Effect.provide(TestEnv), Logger.withMinimumLogLevel(LogLevel.Warning)))

  it.effect("SERIAL_EXECUTION runs one jobId's triggers one at a time, in order", () =>
    Effect.gen(function*() {
      yield* reset
      const admin = yield* MockAdmin.MockAdmin
      const replies = yield* Effect.forEach([1, 2, 3], (logId) =>
        admin.trigger({ handler: "sleep", jobId: 1, logId, params: "10" }))
      assert.deepStrictEqual(
        replies.map((t) =>
          t.reply.code
        ),
        [200, 200, 200]
      )
      yield* TestClock.adjust(Duration.seconds(10))
      assert.deepStrictEqual(events, ["start:1", "end:1", "start:2"])
      yield* TestClock.adjust(Duration.seconds(20))
      const results = yield* Effect.forEach([1, 2, 3], (logId) => admin.result(logId))
      assert.deepStrictEqual(results.map((r) => r.handleCode), [200, 200, 200])
      assert.deepStrictEqual(events, ["start:1", "end:1", "start:2", "end:2", "start:3", "end:3"])
      assert.deepStrictEqual((yield* admin.callbacks).map((c) => c.logId), [1, 2, 3])
    }).pipe(Effect.provide(TestEnv)))

  it.effect("DISCARD_LATER refuses while busy and sends no result for it; runs when idle", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.trigger({ handler: "sleep", jobId: 2, logId: 10, params: "10" })
      const refused = yield* admin.trigger({
        handler: "sleep",
        jobId: 2,
        logId: 11,
        params: "1",
        blockStrategy: "DISCARD_LATER"
      })
      assert.deepStrictEqual(refused.reply, { code: 500, msg: "block strategy effect：Discard Later" })
      // `run` fails with the refusal as data.
      const error = yield* Effect.flip(
        admin.run({ handler: "sleep", jobId: 2, logId: 13, blockStrategy: "DISCARD_LATER" })
      )
      assert.deepStrictEqual([error.reason, error.logId, error.reply], ["Refused", 13, refused.reply])
      yield* TestClock.adjust(Duration.seconds(10))
      assert.strictEqual((yield* admin.result(10)).handleCode, 200)
      const accepted = yield* admin.trigger({
        handler: "sleep",
        jobId: 2,
        logId: 12,
        params: "1",
        blockStrategy: "DISCARD_LATER"
      })
      assert.strictEqual(accepted.reply.code, 200)
      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual((yield* admin.result(12)).handleCode, 200)
      assert.deepStrictEqual((yield* admin.callbacks).map((c) => c.logId), [10, 12])
    }).pipe(Effect.provide(TestEnv)))

  it.effect("COVER_EARLY kills the running and queued runs; the new one starts after the old has ended", () =>
    Effect.gen(function*() {
      yield* reset
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.trigger({ handler: "slowCleanup", jobId: 3, logId: 20 })
      yield* admin.trigger({ handler: "slowCleanup", jobId: 3, logId: 21 })
      yield* TestClock.adjust(Duration.seconds(1))
      const cover = yield* admin.trigger({ handler: "slowCleanup", jobId: 3, logId: 22, blockStrategy: "COVER_EARLY" })
      assert.strictEqual(cover.reply.code, 200)
      const queued = yield* admin.result(21)
      assert.deepStrictEqual([queued.handleCode, queued.handleMsg], [
        500,
        "block strategy effect：Cover Early [job not executed, in the job queue, killed.]"
      ])
      // The interrupted run is still cleaning up: the new run waits for it.
      assert.deepStrictEqual(events, ["start:20"])
      yield* TestClock.adjust(Duration.seconds(5))
      const running = yield* admin.result(20)
      assert.deepStrictEqual([running.handleCode, running.handleMsg], [
        500,
        "block strategy effect：Cover Early [job running, killed]"
      ])
      assert.deepStrictEqual(events, ["start:20", "cleanup:20", "start:22"])
      // Let the last run clean up before the test's scope closes (its finalizer sleeps on the TestClock).
      yield* admin.kill(3)
      yield* TestClock.adjust(Duration.seconds(5))
      assert.strictEqual((yield* admin.result(22)).handleMsg, "scheduling center kill job. [job running, killed]")
    }).pipe(Effect.provide(TestEnv)))

  it.effect("COVER_EARLY again while the first cover still waits: the newest run too waits for the old one's end", () =>
    Effect.gen(function*() {
      yield* reset
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.trigger({ handler: "slowCleanup", jobId: 4, logId: 30 })
      yield* TestClock.adjust(Duration.seconds(1))
      yield* admin.trigger({ handler: "slowCleanup", jobId: 4, logId: 31, blockStrategy: "COVER_EARLY" })
      yield* admin.trigger({ handler: "slowCleanup", jobId: 4, logId: 32, blockStrategy: "COVER_EARLY" })
      assert.strictEqual(
        (yield* admin.result(31)).handleMsg,
        "block strategy effect：Cover Early [job not executed, in the job queue, killed.]"
      )
      // Run 30 is still cleaning up: neither cover has started.
      yield* TestClock.adjust(Duration.seconds(1))
      assert.deepStrictEqual(events, ["start:30"])
      yield* TestClock.adjust(Duration.seconds(5))
      assert.deepStrictEqual(events, ["start:30", "cleanup:30", "start:32"])
      yield* admin.kill(4)
      yield* TestClock.adjust(Duration.seconds(5))
      assert.strictEqual((yield* admin.result(32)).handleMsg, "scheduling center kill job. [job running, killed]")
    }).pipe(Effect.provide(TestEnv)))

  it.effect("a Promise job that ignores its signal: the next run starts only once its function has settled", () =>
    Effect.gen(function*() {
      yield* reset
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.trigger({ handler: "stubborn", jobId: 40, logId: 400, params: "300" })
      yield* realSleep(50)
      yield* admin.trigger({ handler: "stubborn", jobId: 40, logId: 401, params: "0", blockStrategy: "COVER_EARLY" })
      const covered = yield* admin.result(400)
      assert.strictEqual(covered.handleMsg, "block strategy effect：Cover Early [job running, killed]")
      assert.strictEqual((yield* admin.result(401)).handleCode, 200)
      assert.deepStrictEqual(events, ["start:400", "end:400", "start:401", "end:401"])
    }).pipe(Effect.provide(TestEnv)))

  it.effect("a Promise job that never settles is let go after the grace, with a warning in its log", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.trigger({ handler: "stubborn", jobId: 41, logId: 410, params: "forever" })
      yield* realSleep(20)
      yield* admin.kill(41)
      const result = yield* Effect.fork(admin.result(410))
      // The run waits for its function, on the TestClock: once its interruption has begun, the grace passes.
      yield* realSleep(20)
      assert.isNull(result.unsafePoll())
      yield* TestClock.adjust(Job.promiseStopGrace)
      assert.strictEqual((yield* Fiber.join(result)).handleMsg, "scheduling center kill job. [job running, killed]")
      assert.include(
        (yield* admin.log(410)).logContent,
        "job stubborn: its function did not settle within 5s of being stopped (it ignores its AbortSignal)"
      )
    }).pipe(Effect.provide(TestEnv)))

  it.effect("executorTimeout interrupts the run and reports 502 'job execute timeout '", () =>
    Effect.gen(function*() {
      yield* reset
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.trigger({ handler: "sleep", jobId: 4, logId: 30, params: "60", timeoutSeconds: 5 })
      yield* TestClock.adjust(Duration.seconds(5))
      const result = yield* admin.result(30)
      assert.deepStrictEqual([result.handleCode, result.handleMsg], [502, "job execute timeout "])
      assert.deepStrictEqual(events, ["start:30"])
      const log = yield* admin.log(30)
      assert.include(log.logContent, "xxl-job job execute timeout")
      // A timeout of 0 means none.
      yield* admin.trigger({ handler: "sleep", jobId: 4, logId: 31, params: "60", timeoutSeconds: 0 })
      yield* TestClock.adjust(Duration.seconds(60))
      assert.strictEqual((yield* admin.result(31)).handleCode, 200)
    }).pipe(Effect.provide(TestEnv)))

  it.effect("/kill reports the running and queued runs; /idleBeat is busy until the killed run has ended", () =>
    Effect.gen(function*() {
      yield* reset
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.trigger({ handler: "slowCleanup", jobId: 5, logId: 40 })
      yield* admin.trigger({ handler: "slowCleanup", jobId: 5, logId: 41 })
      yield* TestClock.adjust(Duration.seconds(1))
      assert.deepStrictEqual(yield* admin.idleBeat(5), { code: 500, msg: Messages.jobBusy })
      assert.deepStrictEqual(yield* admin.kill(5), { code: 200, msg: "Success" })
      assert.deepStrictEqual(
        [(yield* admin.result(41)).handleMsg],
        ["scheduling center kill job. [job not executed, in the job queue, killed.]"]
      )
      assert.deepStrictEqual(yield* admin.idleBeat(5), { code: 500, msg: Messages.jobBusy })
      yield* TestClock.adjust(Duration.seconds(5))
      const running = yield* admin.result(40)
      assert.deepStrictEqual([running.handleCode, running.handleMsg], [
        500,
        "scheduling center kill job. [job running, killed]"
      ])
      assert.deepStrictEqual(yield* admin.idleBeat(5), { code: 200, msg: "Success" })
      const again = yield* admin.kill(5)
      assert.deepStrictEqual(again, {
        code: 200,
        msg: "job thread already killed.",
        content: "job thread already killed.",
        data: "job thread already killed."
      })
    }).pipe(Effect.provide(TestEnv)))

  it.effect("a new handler for a busy jobId replaces its lane, killing the old run", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.trigger({ handler: "sleep", jobId: 7, logId: 50, params: "100" })
      yield* TestClock.adjust(Duration.seconds(1))
      yield* admin.trigger({ handler: "other", jobId: 7, logId: 51 })
      const old = yield* admin.result(50)
      assert.deepStrictEqual([old.handleCode, old.handleMsg], [
        500,
        "change jobhandler or glue type, and terminate the old job thread. [job running, killed]"
      ])
      assert.strictEqual((yield* admin.result(51)).handleMsg, "other ran")
      assert.deepStrictEqual((yield* admin.callbacks).map((c) => c.logId).sort(), [50, 51])
    }).pipe(Effect.provide(TestEnv)))

  it.effect("a full queue and a repeated logId are refused with clear messages", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      assert.strictEqual(
        (yield* admin.trigger({ handler: "sleep", jobId: 8, logId: 60, params: "10" })).reply.code,
        200
      )
      yield* TestClock.adjust(Duration.millis(1))
      const codes = yield* Effect.forEach(
        [61, 62, 63],
        (logId) => Effect.map(admin.trigger({ handler: "sleep", jobId: 8, logId, params: "10" }), (t) => t.reply.code)
      )
      // 60 runs, 61-63 wait: the queue holds 3.
      assert.deepStrictEqual(codes, [200, 200, 200])
      const full = yield* admin.trigger({ handler: "sleep", jobId: 8, logId: 64, params: "10" })
      assert.deepStrictEqual(full.reply, { code: 500, msg: Messages.queueFull(8, 3) })
      const repeat = yield* admin.trigger({ handler: "sleep", jobId: 8, logId: 62, params: "10" })
      assert.deepStrictEqual(repeat.reply, { code: 500, msg: "repeat trigger job, logId:62" })
      // The running run's logId is no repeat (Java forgets a logId once its run starts): only the full queue
      // refuses it.
      const rerun = yield* admin.trigger({ handler: "sleep", jobId: 8, logId: 60, params: "1" })
      assert.deepStrictEqual(rerun.reply, { code: 500, msg: Messages.queueFull(8, 3) })
      yield* TestClock.adjust(Duration.seconds(40))
      assert.deepStrictEqual(
        (yield* admin.callbacks).map((c) => c.logId).sort(),
        [60, 61, 62, 63]
      )
    }).pipe(Effect.provide(TestEnv)))

  it.effect("unknown handlers and glue types are refused; GLUE_GROOVY is not supported", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      assert.deepStrictEqual((yield* admin.trigger({ handler: "nope" })).reply, {
        code: 500,
        msg: "job handler [nope] not found."
      })
      assert.deepStrictEqual((yield* admin.trigger({ handler: "", glueType: "FOO" })).reply, {
        code: 500,
        msg: "glueType[FOO] is not valid."
      })
      const groovy = yield* admin.trigger({ handler: "", glueType: "GLUE_GROOVY" })
      assert.strictEqual(groovy.reply.code, 500)
      assert.include(groovy.reply.msg, "GLUE_GROOVY")
      const raw = yield* admin.call("/run", JSON.stringify({ jobId: 1, executorHandler: "other", logId: 99 }))
      assert.deepStrictEqual(raw, { code: 500, msg: "glueType[null] is not valid." })
      assert.deepStrictEqual(yield* admin.callbacks, [])
    }).pipe(Effect.provide(TestEnv)))

  it.effect("results: long messages cut at 50000 + '...', throws and rejected promises are 500 with the error", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const long = yield* admin.run({ handler: "long" })
      assert.strictEqual(long.result.handleMsg, "x".repeat(50_000) + "...")
      const thrown = yield* admin.run({ handler: "throws" })
      assert.strictEqual(thrown.result.handleCode, 500)
      assert.include(thrown.result.handleMsg, "kaboom")
      const rejected = yield* admin.run({ handler: "rejects" })
      assert.strictEqual(rejected.result.handleCode, 500)
      assert.include(rejected.result.handleMsg, "rejected promise")
      const bad = yield* admin.run({ handler: "typed", params: "{\"n\":1.5}" })
      assert.strictEqual(bad.result.handleCode, 500)
      assert.match(bad.result.handleMsg ?? "", /^job params invalid: /)
      const noCode = yield* admin.run({ handler: "noCode" })
      assert.deepStrictEqual([noCode.result.handleCode, noCode.result.handleMsg], [500, "job handle result lost."])
      const good = yield* admin.run({ handler: "typed", params: "{\"n\":2}" })
      assert.strictEqual(good.result.handleMsg, "n=2")
    }).pipe(Effect.provide(TestEnv)))

  it.effect("idle lanes are retired", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const lanes = yield* Engine.lanes
      yield* admin.run({ handler: "other", jobId: 9 })
      assert.strictEqual((yield* lanes.stats).lanes, 1)
      yield* TestClock.adjust(Duration.seconds(30))
      assert.strictEqual((yield* lanes.stats).lanes, 1)
      yield* TestClock.adjust(Duration.seconds(60))
      assert.strictEqual((yield* lanes.stats).lanes, 0)
    }).pipe(Effect.provide(TestEnv)))

  it.effect("every accepted trigger gets exactly one result, whatever the mix of strategies and kills", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const accepted = new Set<number>()
      let seed = 42
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed % n
      }
      const strategies = ["SERIAL_EXECUTION", "DISCARD_LATER", "COVER_EARLY"] as const
      for (let logId = 1000; logId < 1300; logId++) {
        const jobId = 100 + random(5)
        if (random(10) === 0) {
          yield* admin.kill(jobId)
        } else {
          const handler = random(8) === 0 ? "other" : "sleep"
          const t = yield* admin.trigger({
            handler,
            jobId,
            logId,
            params: String(random(4)),
            blockStrategy: strategies[random(3)],
            timeoutSeconds: random(3)
          })
          if (t.reply.code === 200) accepted.add(logId)
        }
        yield* TestClock.adjust(Duration.millis(500 * random(3)))
      }
      yield* TestClock.adjust(Duration.seconds(3600))
      const fiber = yield* Effect.fork(Effect.forEach([...accepted], (logId) => admin.result(logId)))
      yield* TestClock.adjust(Duration.seconds(1))
      yield* Fiber.join(fiber)
      const counts = new Map<number, number>()
      for (const c of yield* admin.callbacks) counts.set(c.logId, (counts.get(c.logId) ?? 0) + 1)
      assert.deepStrictEqual([...counts.keys()].sort(), [...accepted].sort())
      assert.isTrue([...counts.values()].every((n) => n === 1))
      assert.isAbove(accepted.size, 100)
    }).pipe(Effect.provide(TestEnv)))
})

describe("Job.registry", () => {
  it("refuses what is not a job, and two jobs of one name, saying what to do", () => {
    const Hello = Job.make({ name: "hello", run: Effect.void })
    assert.throws(
      () => Job.registry([Hello] as never),
      /^Job\.registry: pass the jobs themselves, Job\.registry\(A, B\), not an array$/
    )
    assert.throws(
      () => Job.registry(undefined as never),
      /^Job\.registry: undefined is not a job \(make one with Job\.make\)$/
    )
    assert.throws(() => Job.registry(Hello, Hello), /two jobs are named "hello"/)
  })
})
