/**
 * Tracing to an OTLP endpoint, set up in code: every run becomes an `xxl-job.run` span, the job's own spans
 * nest under it. `OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 npx tsx examples/tracing.ts` against a
 * collector (Jaeger, Tempo, an OpenTelemetry Collector) on loopback; it runs a few jobs with the in-process mock
 * admin, then exits (spans are flushed on the way out).
 *
 * With `Executor.layerFromEnv` (and `npm start`) the `OTEL_*` variables alone do the same, no code needed.
 */
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Duration, Effect, Layer } from "effect"
// In your project: import { Job } from "effect-xxl-job" and { MockAdmin } from "effect-xxl-job/testing"
import { Job } from "../src/index.js"
import { MockAdmin } from "../src/testing.js"

const Report = Job.make({
  name: "report",
  run: Effect.gen(function*() {
    // The job's own spans: children of the run's span.
    yield* Effect.sleep(Duration.millis(30)).pipe(Effect.withSpan("query the orders"))
    yield* Effect.sleep(Duration.millis(10)).pipe(Effect.withSpan("render the report"))
    return "report sent"
  })
})

const Tracing = OtlpTracer.layer({
  url: `${process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "http://127.0.0.1:4318"}/v1/traces`,
  resource: { serviceName: "effect-xxl-job-example" }
}).pipe(Layer.provide(Layer.merge(NodeHttpClient.layerUndici, OtlpSerialization.layerJson)))

const program = Effect.gen(function*() {
  const admin = yield* MockAdmin.MockAdmin
  for (let i = 0; i < 3; i++) {
    const { result } = yield* admin.run({ handler: "report" })
    console.log(`run ${result.logId}: ${result.handleCode} ${result.handleMsg}`)
  }
})

program.pipe(
  // The tracer is provided beneath the executor, so its runs see it.
  Effect.provide(MockAdmin.layer(Job.registry(Report)).pipe(Layer.provide(Tracing))),
  NodeRuntime.runMain
)
