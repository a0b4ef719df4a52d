/**
 * Observability from the environment. Tracing: with OTEL_EXPORTER_OTLP_ENDPOINT set, an executor from `layerFromEnv` sends
 * its run spans as OTLP JSON to that endpoint (a loopback collector here); without it, it sends nothing. The
 * executors register with the mock admin.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Console } from "effect"
import { ConfigProvider, Context, Effect, Exit, Layer, Option, Scope } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Executor, Job } from "../src/index.js"
import * as Otlp from "../src/internal/otlp.js"
import { MockAdmin } from "../src/testing.js"

const Hello = Job.make({ name: "hello", run: Effect.succeed("hi") })

/** A loopback OTLP collector: every POST body, by path; every export accepted. */
const otlpSink = Effect.acquireRelease(
  Effect.async<{ url: string; bodies: Array<{ path: string; body: string }>; close: () => void }>((resume) => {
    const bodies: Array<{ path: string; body: string }> = []
    const server = Http.createServer((req, res) => {
      let body = ""
      req.setEncoding("utf8")
      req.on("data", (chunk) => body += chunk)
      req.on("end", () => {
        bodies.push({ path: req.url ?? "", body })
        res.writeHead(200, { "content-type": "application/json" })
        res.end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        bodies,
        close: () => {
          server.closeAllConnections()
          server.close()
        }
      })))
  }),
  (sink) => Effect.sync(sink.close)
)

/** An executor's environment on loopback, with its admin at `adminUrl`, plus `extra`. */
const environment = (adminUrl: string, logPath: string, extra: Record<string, string>) =>
  new Map(Object.entries({
    XXL_JOB_ADMIN_ADDRESSES: adminUrl,
    XXL_JOB_EXECUTOR_IP: "127.0.0.1",
    XXL_JOB_EXECUTOR_HOST: "127.0.0.1",
    XXL_JOB_EXECUTOR_PORT: "0",
    XXL_JOB_EXECUTOR_LOGPATH: logPath,
    ...extra
  }))

const post = (port: number, path: string, body: string) =>
  Effect.async<string>((resume) => {
    const req = Http.request({ host: "127.0.0.1", port, path, method: "POST" }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (chunk) => text += chunk)
      res.on("end", () => resume(Effect.succeed(text)))
    })
    req.end(body)
  })

describe("tracing from OTEL_* variables", () => {
  it.effect("the endpoint: the traces URL wins, else the base URL + /v1/traces; disabled means none", () =>
    Effect.gen(function*() {
      const read = (env: Record<string, string>) =>
        Otlp.tracesEndpointFromEnv.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
      assert.deepStrictEqual(yield* read({}), Option.none())
      assert.deepStrictEqual(
        yield* read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" }),
        Option.some("http://c:4318/v1/traces")
      )
      assert.deepStrictEqual(
        yield* read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t/x" }),
        Option.some("http://t/x")
      )
      assert.deepStrictEqual(
        yield* read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }),
        Option.none()
      )
      assert.deepStrictEqual(
        yield* read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" }),
        Option.none()
      )
      const metrics = (env: Record<string, string>) =>
        Otlp.metricsEndpointFromEnv.pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
        )
      assert.deepStrictEqual(
        yield* metrics({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }),
        Option.some("http://c:4318/v1/metrics")
      )
      assert.deepStrictEqual(
        yield* metrics({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_METRICS_EXPORTER: "none" }),
        Option.none()
      )
    }))

  it.live("an executor from the environment sends its run spans and its metrics to the OTLP endpoint", () =>
    Effect.gen(function*() {
      const sink = yield* otlpSink
      const admin = yield* MockAdmin.serve()
      const logPath = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-otlp-"))
      const env = environment(admin.url!, logPath, {
        XXL_JOB_EXECUTOR_APPNAME: "otlp-app",
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
        OTEL_SERVICE_NAME: "my-executor"
      })
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Executor.layerFromEnv(Job.registry(Hello)), scope).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(env))
      )
      const { port } = Context.get(context, Executor.Executor)
      const reply = yield* post(
        port,
        "/run",
        JSON.stringify({
          jobId: 1,
          executorHandler: "hello",
          executorBlockStrategy: "SERIAL_EXECUTION",
          executorTimeout: 0,
          logId: 1,
          logDateTime: Date.now(),
          glueType: "BEAN",
          broadcastIndex: 0,
          broadcastTotal: 1
        })
      )
      assert.include(reply, "\"code\":200")
      yield* Effect.sleep("200 millis")
      // Closing flushes the exporter.
      yield* Scope.close(scope, Exit.void)
      Fs.rmSync(logPath, { recursive: true, force: true })
      const traces = sink.bodies.filter((b) => b.path === "/v1/traces").map((b) => b.body).join("\n")
      assert.include(traces, "\"xxl-job.run\"")
      assert.include(traces, "my-executor")
      assert.include(traces, "xxl.job.handler")
      const metrics = sink.bodies.filter((b) => b.path === "/v1/metrics").map((b) => b.body).join("\n")
      assert.include(metrics, "xxl_job_runs_total")
      // The admin, not the collector, got the registration and the result.
      assert.deepStrictEqual(sink.bodies.filter((b) => b.path.includes("/api/")), [])
      assert.deepStrictEqual((yield* admin.callbacks).map((item) => [item.logId, item.handleCode]), [[1, 200]])
    }).pipe(Effect.scoped))
})

describe("executor log format from XXL_JOB_EXECUTOR_LOG_FORMAT", () => {
  it.live("json: one object a line with level and message, and never the access token", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve()
      const logPath = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-logfmt-"))
      const lines: Array<string> = []
      // The current console, with its plain-call side writing into `lines` (Effect's loggers use that side).
      const current = yield* Effect.console
      const keep = (...args: ReadonlyArray<unknown>) => void lines.push(args.map(String).join(" "))
      const capture: Console.Console = { ...current, unsafe: { ...current.unsafe, log: keep, error: keep } }
      const env = environment(admin.url!, logPath, {
        XXL_JOB_ACCESS_TOKEN: "s3cret-token",
        XXL_JOB_EXECUTOR_APPNAME: "json-logs",
        XXL_JOB_EXECUTOR_LOG_FORMAT: "json"
      })
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(Executor.layerFromEnv(Job.registry(Hello)), scope).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(env)),
        Effect.withConsole(capture)
      )
      yield* Scope.close(scope, Exit.void)
      Fs.rmSync(logPath, { recursive: true, force: true })
      assert.isAtLeast(lines.length, 2)
      for (const line of lines) {
        const parsed = JSON.parse(line) as { message: unknown; logLevel: unknown }
        assert.isDefined(parsed.message)
        assert.isDefined(parsed.logLevel)
        assert.notInclude(line, "s3cret-token")
      }
      assert.isTrue(lines.some((line) => line.includes("listening on")), lines.join("\n"))
    }).pipe(Effect.scoped))
})
