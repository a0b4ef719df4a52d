/**
 * Global limits and misbehaving jobs: runs at once, per-run log size, jobs that flood their log or never end.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Schema, TestClock } from "effect"
import { Job } from "../src/index.js"
import { MockAdmin } from "../src/testing.js"
import * as Engine from "./helpers/engine.js"

const started: Array<number> = []
const Sleep = Job.make({
  name: "sleep",
  params: Schema.NumberFromString,
  run: (seconds) =>
    Effect.gen(function*() {
      started.push((yield* Job.JobContext).logId)
      yield* Effect.sleep(Duration.seconds(seconds))
    })
})
/** Writes `params` lines of 100 characters. */
const Flood = Job.make({
  name: "flood",
  params: Schema.NumberFromString,
  run: (lines) =>
    Effect.gen(function*() {
      for (let i = 0; i < lines; i++) yield* Effect.log(`flood line ${i} ` + "x".repeat(90))
      return "flooded"
    })
})
const Never = Job.make({ name: "never", run: Effect.never })
const Instant = Job.make({ name: "instant", run: Effect.succeed("done") })
const jobs = Job.registry(Sleep, Flood, Never, Instant)

describe("limits", () => {
  it.effect("maxConcurrentRuns: past the limit triggers wait in their queue (killable there), then run", () =>
    Effect.gen(function*() {
      started.length = 0
      const admin = yield* MockAdmin.MockAdmin
      const lanes = yield* Engine.lanes
      for (const logId of [1, 2, 3, 4]) yield* admin.trigger({ handler: "sleep", jobId: logId, logId, params: "10" })
      yield* TestClock.adjust(Duration.seconds(1))
      assert.deepStrictEqual(started, [1, 2])
      assert.deepStrictEqual(yield* lanes.stats, { running: 2, queued: 2, lanes: 4 })
      assert.deepStrictEqual(yield* admin.idleBeat(3), {
        code: 500,
        msg: "job thread is running or has trigger queue."
      })
      yield* admin.kill(4)
      assert.strictEqual(
        (yield* admin.result(4)).handleMsg,
        "scheduling center kill job. [job not executed, in the job queue, killed.]"
      )
      yield* TestClock.adjust(Duration.seconds(10))
      assert.deepStrictEqual(started, [1, 2, 3])
      yield* TestClock.adjust(Duration.seconds(10))
      const results = (yield* admin.callbacks).map((c) => [c.logId, c.handleCode]).sort((a, b) => a[0] - b[0])
      assert.deepStrictEqual(results, [[1, 200], [2, 200], [3, 200], [4, 500]])
    }).pipe(Effect.provide(MockAdmin.layer(jobs, { maxConcurrentRuns: 2 }))))

  it.effect("maxConcurrentRuns 1 with thousands of jobs waiting that end at once: every one runs and reports", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const count = 5000
      yield* admin.trigger({ handler: "sleep", jobId: 1, logId: 1, params: "1" })
      for (let logId = 2; logId <= count; logId++) yield* admin.trigger({ handler: "instant", jobId: logId, logId })
      yield* TestClock.adjust(Duration.seconds(1))
      yield* admin.result(count)
      const codes = (yield* admin.callbacks).map((c) => c.handleCode)
      assert.strictEqual(codes.length, count)
      assert.isTrue(codes.every((code) => code === 200))
    }).pipe(Effect.provide(MockAdmin.layer(jobs, { maxConcurrentRuns: 1 }))))

  it.effect("a job flooding its log keeps its head and tail around a marker; its result and end marker arrive", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { result, triggered } = yield* admin.run({ handler: "flood", params: "1000" })
      assert.deepStrictEqual([result.handleCode, result.handleMsg], [200, "flooded"])
      const log = yield* admin.log(triggered.logId)
      const text = log.logContent
      assert.isBelow(text.length, 12_000)
      assert.match(
        text,
        /log truncated: \d+ entries \(\d+ bytes\) left out here, to keep this run's log within 10240 bytes/
      )
      // The first and the last lines are there, the middle is not, in order around the marker.
      const [first, marker, last, end] = ["flood line 0 ", "log truncated", "flood line 999 ", "execute end(finish)"]
        .map((part) => text.indexOf(part))
      assert.isTrue(0 < first && first < marker && marker < last && last < end, `${[first, marker, last, end]}`)
      assert.notInclude(text, "flood line 500 ")
    }).pipe(Effect.provide(MockAdmin.layer(jobs, { maxRunLogBytes: 10_240 }))))

  it.effect("a job that never ends is ended by its timeout or a kill, and the executor goes on", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.trigger({ handler: "never", jobId: 1, logId: 1, timeoutSeconds: 3 })
      yield* admin.trigger({ handler: "never", jobId: 2, logId: 2 })
      yield* TestClock.adjust(Duration.seconds(3))
      assert.strictEqual((yield* admin.result(1)).handleCode, 502)
      yield* admin.kill(2)
      assert.strictEqual((yield* admin.result(2)).handleMsg, "scheduling center kill job. [job running, killed]")
      assert.deepStrictEqual(yield* admin.beat, { code: 200, msg: "Success" })
    }).pipe(Effect.provide(MockAdmin.layer(jobs))))
})

describe("concurrent triggers for one job", () => {
  let running = 0
  let overlaps = 0
  const Exclusive = Job.make({
    name: "exclusive",
    run: Effect.gen(function*() {
      if (running > 0) overlaps++
      running++
      yield* Effect.sleep(Duration.millis(20)).pipe(Effect.ensuring(Effect.sync(() => running--)))
    })
  })

  it.live("many COVER_EARLY and SERIAL triggers at once, with a durable outbox: one run at a time, one result each", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const triggered = yield* Effect.forEach(
        Array.from({ length: 60 }, (_, i) => i + 1),
        (logId) =>
          admin.trigger({
            handler: "exclusive",
            jobId: 1,
            logId,
            blockStrategy: logId % 3 === 0 ? "SERIAL_EXECUTION" : "COVER_EARLY"
          }),
        { concurrency: "unbounded" }
      )
      const accepted = triggered.filter((t) => t.reply.code === 200).map((t) => t.logId)
      assert.strictEqual(accepted.length, 60)
      yield* Effect.forEach(accepted, (logId) => admin.result(logId, "10 seconds"), { concurrency: "unbounded" })
      const counts = new Map<number, number>()
      for (const c of yield* admin.callbacks) counts.set(c.logId, (counts.get(c.logId) ?? 0) + 1)
      assert.deepStrictEqual([...counts.keys()].sort((a, b) => a - b), accepted.sort((a, b) => a - b))
      assert.isTrue([...counts.values()].every((n) => n === 1))
      assert.strictEqual(overlaps, 0)
    }).pipe(Effect.provide(MockAdmin.layerHttp(Job.registry(Exclusive)))))
})
