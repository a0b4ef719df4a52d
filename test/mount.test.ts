/**
 * The executor mounted in a server of the application's (`Executor.layerMounted`, `Mount`): in an Express
 * app over real HTTP on loopback, driven by a mock admin that registers it and triggers through it, before
 * and after a JSON body parser; and the web (`Request` → `Response`) handler called directly.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Scope } from "effect"
import express from "express"
import * as Fs from "node:fs"
import type * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Executor, ExecutorConfig, Job, Mount } from "../src/index.js"
import { MockAdmin } from "../src/testing.js"

const jobs = Job.registry(
  Job.make({ name: "hello", run: Effect.map(Job.JobContext, (context) => `hello ${context.params}`) })
)

/** An Express app on a free loopback port, the executor's handler bound once it exists. */
const expressApp = (bodyParserFirst: boolean) =>
  Effect.acquireRelease(
    Effect.async<{ port: number; server: Http.Server; mount: { handler: Mount.Handlers["node"] | undefined } }>(
      (resume) => {
        const app = express()
        const mount: { handler: Mount.Handlers["node"] | undefined } = { handler: undefined }
        if (bodyParserFirst) app.use(express.json({ type: () => true }))
        app.use((request, response, next) => mount.handler!(request, response, next))
        app.get("/health", (_request, response) => {
          response.send("app ok")
        })
        const server = app.listen(0, "127.0.0.1", () => {
          resume(Effect.succeed({ port: (server.address() as AddressInfo).port, server, mount }))
        })
      }
    ),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** A log path of the test's own, removed after. */
const tempLogPath = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-mount-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** The mounted executor's layer for an app on `port`, its endpoints under `/xxl-job/`. */
const mountedAt = (port: number, adminUrl: string | undefined, logPath: string) =>
  Executor.layerMounted(jobs).pipe(
    Layer.provideMerge(ExecutorConfig.layer({
      appName: "mounted-app",
      address: `http://127.0.0.1:${port}/xxl-job/`,
      adminAddresses: adminUrl,
      logPath,
      logRetentionDays: 0
    }))
  )

const get = (port: number, path: string) => Effect.promise(() => fetch(`http://127.0.0.1:${port}${path}`))

describe("mounted in an Express app", () => {
  for (const bodyParserFirst of [false, true]) {
    it.scopedLive(
      `the admin registers it and triggers through the app's port${
        bodyParserFirst ? ", after express.json() has read the body" : ""
      }; the app's own routes still answer`,
      () =>
        Effect.gen(function*() {
          const admin = yield* MockAdmin.serve()
          const app = yield* expressApp(bodyParserFirst)
          const context = yield* Layer.build(mountedAt(app.port, admin.url, yield* tempLogPath))
          app.mount.handler = Context.get(context, Mount.Mount).node
          let executors = yield* admin.executors
          while (executors.length === 0) {
            yield* Effect.sleep(Duration.millis(10))
            executors = yield* admin.executors
          }
          assert.deepStrictEqual(executors, [`http://127.0.0.1:${app.port}/xxl-job/`])
          const { result } = yield* admin.run({ handler: "hello", params: "from the admin" })
          assert.deepStrictEqual([result.handleCode, result.handleMsg], [200, "hello from the admin"])
          assert.strictEqual((yield* admin.beat).code, 200)
          const health = yield* get(app.port, "/health").pipe(
            Effect.flatMap((response) => Effect.promise(() => response.text()))
          )
          assert.strictEqual(health, "app ok")
          // Under the base path, the protocol's own answers; metrics too.
          const unknown = yield* Effect.promise(() =>
            fetch(`http://127.0.0.1:${app.port}/xxl-job/nope`, { method: "POST" }).then((r) => r.json())
          )
          assert.deepStrictEqual(unknown, { code: 500, msg: "invalid request, uri-mapping(/nope) not found." })
          const metrics = yield* get(app.port, "/xxl-job/metrics").pipe(
            Effect.flatMap((response) => Effect.promise(() => response.text()))
          )
          assert.include(metrics, "xxl_job_runs_total")
        })
    )
  }
})

describe("the web handler", () => {
  it.scopedLive("answers Request → Response under the base path, 404 elsewhere", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(mountedAt(3000, admin.url, yield* tempLogPath), scope)
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      const { basePath, web } = Context.get(context, Mount.Mount)
      assert.strictEqual(basePath, "/xxl-job")
      const call = (path: string, body?: string) =>
        Effect.promise(() =>
          web(new Request(`http://127.0.0.1:3000${path}`, { method: "POST", ...(body === undefined ? {} : { body }) }))
            .then(async (response) => ({
              status: response.status,
              type: response.headers.get("content-type"),
              text: await response.text()
            }))
        )
      const beat = yield* call("/xxl-job/beat")
      assert.deepStrictEqual(beat, {
        status: 200,
        type: "application/json;charset=UTF-8",
        text: "{\"code\":200,\"msg\":\"Success\"}"
      })
      assert.strictEqual((yield* call("/elsewhere/beat")).status, 404)
      assert.strictEqual((yield* call("/xxl-jobs/beat")).status, 404)
      const run = yield* call(
        "/xxl-job/run",
        JSON.stringify({ jobId: 1, executorHandler: "hello", logId: 1, logDateTime: Date.now(), glueType: "BEAN" })
      )
      assert.strictEqual(JSON.parse(run.text).code, 200)
      const bad = yield* call("/xxl-job/run", "{bad")
      assert.match(JSON.parse(bad.text).msg, /^request error:/)
    }))

  it.scoped("needs the registered address (it says where the host server is), and no metrics port", () =>
    Effect.gen(function*() {
      const logPath = yield* tempLogPath
      const startWith = (options: ExecutorConfig.Options) =>
        Effect.flip(
          Layer.build(Executor.layerMounted(jobs).pipe(Layer.provide(ExecutorConfig.layer({ logPath, ...options }))))
            .pipe(Effect.scoped)
        )
      const noAddress = yield* startWith({})
      assert.strictEqual(noAddress._tag, "ExecutorConfigError")
      assert.include(noAddress.message, "address: required when the executor is mounted")
      const metricsPort = yield* startWith({ address: "http://127.0.0.1:3000/", metrics: 9100 })
      assert.include(metricsPort.message, "metrics: a port of its own is not available when mounted")
      // Refused before any file was opened: no results journal was made.
      assert.deepStrictEqual(Fs.readdirSync(logPath), [])
    }))

  it.scoped("checks its log path before opening a file, as the executor with a server does", () =>
    Effect.gen(function*() {
      const file = Path.join(yield* tempLogPath, "file")
      Fs.writeFileSync(file, "")
      const error = yield* Effect.flip(
        Layer.build(
          Executor.layerMounted(jobs).pipe(Layer.provide(ExecutorConfig.layer({
            address: "http://127.0.0.1:3000/xxl-job/",
            logPath: Path.join(file, "logs")
          })))
        ).pipe(Effect.scoped)
      )
      assert.strictEqual(
        error.message,
        `XXL_JOB_EXECUTOR_LOGPATH (logPath): cannot create ${file}/logs (${file} is a file, not a directory): set it to a directory this user can write (run logs and undelivered results are kept there)`
      )
    }))
})
