/**
 * Traces: a span per run, exported through @effect/opentelemetry to an in-memory exporter, with its
 * attributes, its result, and the job's own spans nested under it.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Duration, Effect, Layer } from "effect"
import { Job } from "../src/index.js"
import { MockAdmin } from "../src/testing.js"

const Traced = Job.make({
  name: "traced",
  run: Effect.as(Effect.withSpan(Effect.sleep(Duration.millis(1)), "load the rows"), "done")
})
const Failing = Job.make({ name: "failing", run: Job.fail("nope") })
const Slow = Job.make({ name: "slow", run: Effect.as(Effect.sleep(Duration.seconds(30)), "slept") })
const jobs = Job.registry(Traced, Failing, Slow)

const exporter = new InMemorySpanExporter()
const Tracing = NodeSdk.layer(() => ({
  resource: { serviceName: "effect-xxl-job-test" },
  spanProcessor: new SimpleSpanProcessor(exporter)
}))

const runSpan = (logId: number) =>
  exporter.getFinishedSpans().find((span) => span.name === "xxl-job.run" && span.attributes["xxl.log.id"] === logId)

describe("traces", () => {
  it.scopedLive("a span per run: attributes, the result, and the job's own spans nested under it", () =>
    Effect.gen(function*() {
      exporter.reset()
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.run({ handler: "traced", jobId: 1, logId: 101, params: "x" })
      yield* admin.run({ handler: "failing", jobId: 2, logId: 102 })
      yield* admin.trigger({ handler: "slow", jobId: 3, logId: 103, timeoutSeconds: 1 })
      // Queued behind 103 (SERIAL_EXECUTION) for about its second.
      yield* admin.trigger({ handler: "slow", jobId: 3, logId: 105, timeoutSeconds: 1 })
      yield* admin.result(103)
      yield* admin.result(105)
      yield* admin.trigger({ handler: "slow", jobId: 4, logId: 104 })
      yield* Effect.sleep(Duration.millis(50))
      yield* admin.kill(4)
      yield* admin.result(104)

      const ok = runSpan(101)
      assert.isDefined(ok)
      assert.deepInclude(ok!.attributes, {
        "xxl.job.id": 1,
        "xxl.log.id": 101,
        "xxl.job.handler": "traced",
        "xxl.block.strategy": "SERIAL_EXECUTION",
        "xxl.shard.index": 0,
        "xxl.shard.total": 1,
        "xxl.glue.type": "BEAN",
        "xxl.result.code": 200,
        "xxl.result": "success"
      })
      // The run links to the span of the trigger that brought it (not a parent: it may run much later).
      const trigger = exporter.getFinishedSpans().find((span) =>
        span.name === "xxl-job.trigger" && span.attributes["xxl.log.id"] === 101
      )
      assert.isDefined(trigger)
      assert.strictEqual(trigger!.attributes["xxl.trigger.code"], 200)
      assert.deepStrictEqual(ok!.links.map((link) => link.context.spanId), [trigger!.spanContext().spanId])
      assert.notStrictEqual(ok!.spanContext().traceId, trigger!.spanContext().traceId)
      const child = exporter.getFinishedSpans().find((span) => span.name === "load the rows")
      assert.isDefined(child)
      assert.strictEqual(child!.parentSpanContext?.spanId, ok!.spanContext().spanId)
      assert.strictEqual(child!.spanContext().traceId, ok!.spanContext().traceId)

      assert.deepInclude(runSpan(102)!.attributes, { "xxl.result.code": 500, "xxl.result": "failure" })
      assert.deepInclude(runSpan(103)!.attributes, { "xxl.result.code": 502, "xxl.result": "timeout" })
      assert.include(runSpan(103)!.events.map((event) => event.name), "xxl-job.timed-out")
      assert.deepInclude(runSpan(104)!.attributes, { "xxl.result.code": 500, "xxl.result": "killed" })
      const stopped = runSpan(104)!.events.find((event) => event.name === "xxl-job.stopped")
      assert.strictEqual(stopped?.attributes?.["xxl.stop.reason"], "scheduling center kill job.")
      // Every run says when it started and how long it waited in its queue.
      const startedEvent = runSpan(101)!.events.find((event) => event.name === "xxl-job.started")
      assert.isAtLeast(Number(startedEvent?.attributes?.["xxl.queued.ms"]), 0)
      assert.deepStrictEqual(runSpan(101)!.events.map((event) => event.name), ["xxl-job.started"])
      const waited = runSpan(105)!.events.find((event) => event.name === "xxl-job.started")
      assert.isAtLeast(Number(waited?.attributes?.["xxl.queued.ms"]), 800)
      // Results reach the admin in spans of their own.
      const callbacks = exporter.getFinishedSpans().filter((span) => span.name === "xxl-job.callback")
      assert.isAtLeast(callbacks.length, 1)
      assert.isAtLeast(Number(callbacks[0].attributes["xxl.callback.results"]), 1)
    }).pipe(Effect.provide(MockAdmin.layer(jobs).pipe(Layer.provide(Tracing)))))
})
