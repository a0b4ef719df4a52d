/**
 * Metrics: the Prometheus text format, and `GET /metrics` on a real executor as runs happen. Metrics are
 * process-wide, so the tests compare values before and after.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Metric } from "effect"
import * as Http from "node:http"
import { Executor, Job } from "../src/index.js"
import * as Metrics from "../src/internal/metrics.js"
import { MockAdmin } from "../src/testing.js"

const Ok = Job.make({ name: "metricsOk", run: Effect.as(Effect.log("twelve bytes"), "fine") })
const Bad = Job.make({ name: "metricsBad", run: Job.fail("no") })
const Slow = Job.make({ name: "metricsSlow", run: Effect.as(Effect.sleep(Duration.seconds(30)), "slept") })
const jobs = Job.registry(Ok, Bad, Slow)

const get = (port: number, path: string) =>
  Effect.async<{ status: number; type: string; body: string }>((resume) => {
    Http.get({ host: "127.0.0.1", port, path }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk) => body += chunk)
      res.on("end", () =>
        resume(Effect.succeed({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body })))
    })
  })

/** The value of one sample line, e.g. `xxl_job_runs_total{handler="a",result="success"}`; 0 when absent. */
const sample = (text: string, series: string): number => {
  const line = text.split("\n").find((l) => l.startsWith(series + " "))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

describe("Metrics.prometheusText", () => {
  it.effect("counters, gauges and histograms with labels, cumulative buckets, +Inf, _sum and _count", () =>
    Effect.gen(function*() {
      const counter = Metric.counter("test_format_total", { description: "a \"test\"\ncounter", incremental: true })
      const histogram = Metric.histogram("test_format_seconds", Metrics.runDuration.keyType.boundaries)
      yield* Metric.update(counter.pipe(Metric.tagged("who", "a\"b\\c")), 2)
      yield* Metric.update(histogram, 0.01)
      yield* Metric.update(histogram, 2)
      const text = Metrics.prometheusText(yield* Metric.snapshot)
      assert.include(text, "# HELP test_format_total a \"test\"\\ncounter\n# TYPE test_format_total counter\n")
      assert.include(text, "test_format_total{who=\"a\\\"b\\\\c\"} 2\n")
      assert.include(text, "# TYPE test_format_seconds histogram\n")
      assert.include(text, "test_format_seconds_bucket{le=\"0.005\"} 0\n")
      assert.include(text, "test_format_seconds_bucket{le=\"0.05\"} 1\n")
      assert.include(text, "test_format_seconds_bucket{le=\"5\"} 2\n")
      assert.include(text, "test_format_seconds_bucket{le=\"+Inf\"} 2\n")
      assert.include(text, "test_format_seconds_sum 2.01\n")
      assert.include(text, "test_format_seconds_count 2\n")
      // Every line is a comment or `name{labels} value`.
      for (const line of text.trimEnd().split("\n")) {
        assert.match(line, /^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+)$/, line)
      }
    }))
})

describe("GET /metrics", () => {
  it.scopedLive("counts runs by handler and result, their durations, running runs and the callback backlog", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      const before = (yield* get(port, "/metrics")).body
      const okSeries = "xxl_job_runs_total{handler=\"metricsOk\",result=\"success\"}"
      const badSeries = "xxl_job_runs_total{handler=\"metricsBad\",result=\"failure\"}"
      const killedSeries = "xxl_job_runs_total{handler=\"metricsSlow\",result=\"killed\"}"
      const countSeries = "xxl_job_run_duration_seconds_count{handler=\"metricsOk\"}"

      yield* admin.run({ handler: "metricsOk", jobId: 1 })
      yield* admin.run({ handler: "metricsOk", jobId: 1 })
      yield* admin.run({ handler: "metricsBad", jobId: 2 })
      yield* admin.trigger({ handler: "metricsSlow", jobId: 3, logId: 3003 })
      yield* Effect.sleep(Duration.millis(100))
      const during = yield* get(port, "/metrics")
      assert.strictEqual(during.status, 200)
      assert.strictEqual(during.type, "text/plain; version=0.0.4; charset=utf-8")
      assert.strictEqual(sample(during.body, okSeries) - sample(before, okSeries), 2)
      assert.strictEqual(sample(during.body, badSeries) - sample(before, badSeries), 1)
      assert.strictEqual(sample(during.body, countSeries) - sample(before, countSeries), 2)
      assert.strictEqual(sample(during.body, "xxl_job_runs_running"), 1)
      // Two runs logged a line each (a formatted entry and its newline).
      const logged = sample(during.body, "xxl_job_log_bytes_total") - sample(before, "xxl_job_log_bytes_total")
      assert.isTrue(logged > 2 * "twelve bytes".length && logged < 2 * 200, `${logged}`)
      assert.include(during.body, "# TYPE xxl_job_callback_backlog gauge")

      yield* admin.kill(3)
      yield* admin.result(3003)
      const after = (yield* get(port, "/metrics")).body
      assert.strictEqual(sample(after, killedSeries) - sample(before, killedSeries), 1)
      assert.strictEqual(sample(after, "xxl_job_runs_running"), 0)
      // Only GET /metrics: any other GET is still the protocol's refusal.
      assert.include((yield* get(port, "/beat")).body, "HttpMethod not support")
    }).pipe(Effect.provide(MockAdmin.layerHttp(jobs))))

  it.scopedLive("a port of its own: /metrics there (404 for the rest), refused on the executor's port", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { metricsPort, port } = yield* Executor.Executor
      assert.isDefined(metricsPort)
      assert.notStrictEqual(metricsPort, port)
      yield* admin.run({ handler: "metricsOk", jobId: 5 })
      const scraped = yield* get(metricsPort!, "/metrics")
      assert.strictEqual(scraped.status, 200)
      assert.isAtLeast(sample(scraped.body, "xxl_job_runs_total{handler=\"metricsOk\",result=\"success\"}"), 1)
      assert.strictEqual((yield* get(metricsPort!, "/beat")).status, 404)
      assert.include((yield* get(port, "/metrics")).body, "HttpMethod not support")
    }).pipe(Effect.provide(MockAdmin.layerHttp(jobs, { metrics: 0 }))))

  it.scopedLive("off: GET /metrics is refused like any GET", () =>
    Effect.gen(function*() {
      const { port } = yield* Executor.Executor
      const reply = yield* get(port, "/metrics")
      assert.strictEqual(reply.status, 200)
      assert.include(reply.body, "HttpMethod not support")
    }).pipe(Effect.provide(MockAdmin.layerHttp(jobs, { metrics: "off" }))))
})
