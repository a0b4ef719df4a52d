/**
 * The health probes over real HTTP on loopback: `GET /health` and `GET /ready` where `GET /metrics` is served
 * (or on the executor's port when metrics are off), every answer the admin sees still Java's, and `/ready`
 * answering 503 while a real executor process drains after SIGTERM.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { Executor, Job } from "../src/index.js"
import { drainingText } from "../src/internal/probes.js"
import { MockAdmin } from "../src/testing.js"
import { waitUntil } from "./helpers/wait.js"

const jobs = Job.registry(Job.make({ name: "probed", run: Effect.succeed("fine") }))

const request = (port: number, path: string, method = "GET") =>
  Effect.async<{ status: number; type: string; body: string }>((resume) => {
    const req = Http.request({ host: "127.0.0.1", port, path, method }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk) => body += chunk)
      res.on(
        "end",
        () => resume(Effect.succeed({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }))
      )
    })
    req.on("error", (error) => resume(Effect.die(error)))
    req.end()
  })

const javasRefusal = "{\"code\":500,\"msg\":\"invalid request, HttpMethod not support.\"}"

describe("GET /health and GET /ready", () => {
  it.scopedLive("on the executor's port beside /metrics; every other answer is the protocol's", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      const health = yield* request(port, "/health")
      assert.deepStrictEqual(health, { status: 200, type: "text/plain; charset=utf-8", body: "ok\n" })
      assert.deepStrictEqual(yield* request(port, "/ready?probe=1"), {
        status: 200,
        type: "text/plain; charset=utf-8",
        body: "ready\n"
      })
      // What the admin could ever send is answered as before: other GETs refused, a POST to a probe's path
      // not found, the endpoints unchanged.
      assert.strictEqual((yield* request(port, "/beat")).body, javasRefusal)
      assert.strictEqual((yield* request(port, "/healthz")).body, javasRefusal)
      assert.include((yield* request(port, "/health", "POST")).body, "invalid request, uri-mapping(/health) not found.")
      assert.include((yield* request(port, "/ready", "HEAD")).type, "application/json")
      assert.strictEqual((yield* admin.run({ handler: "probed", jobId: 1 })).result.handleCode, 200)
    }).pipe(Effect.provide(MockAdmin.layerHttp(jobs))))

  it.scopedLive("on the metrics port when metrics have one; the executor's port refuses them as any GET", () =>
    Effect.gen(function*() {
      const { metricsPort, port } = yield* Executor.Executor
      assert.strictEqual((yield* request(metricsPort!, "/health")).body, "ok\n")
      assert.deepStrictEqual(yield* request(metricsPort!, "/ready"), {
        status: 200,
        type: "text/plain; charset=utf-8",
        body: "ready\n"
      })
      const other = yield* request(metricsPort!, "/beat")
      assert.deepStrictEqual([other.status, other.body], [404, "only GET /metrics, /health and /ready here\n"])
      assert.strictEqual((yield* request(port, "/health")).body, javasRefusal)
      assert.strictEqual((yield* request(port, "/ready")).body, javasRefusal)
    }).pipe(Effect.provide(MockAdmin.layerHttp(jobs, { metrics: 0 }))))

  it.scopedLive("on the executor's port when metrics are off (they are not metrics)", () =>
    Effect.gen(function*() {
      const { port } = yield* Executor.Executor
      assert.strictEqual((yield* request(port, "/health")).body, "ok\n")
      assert.strictEqual((yield* request(port, "/ready")).status, 200)
      assert.strictEqual((yield* request(port, "/metrics")).body, javasRefusal)
    }).pipe(Effect.provide(MockAdmin.layerHttp(jobs, { metrics: "off" }))))
})

describe("GET /ready while a real executor process drains", () => {
  const fixture = Path.join(import.meta.dirname, "fixtures", "executor.ts")

  it.scopedLive("503 with the reason after SIGTERM while a run drains, /health still 200, then the process ends", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const logPath = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-xxl-job-probes-"))),
        (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
      )
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          ChildProcess.spawn(process.execPath, ["--import", "tsx", fixture], {
            cwd: Path.join(import.meta.dirname, ".."),
            env: {
              ...process.env,
              XXL_JOB_ADMIN_ADDRESSES: admin.url,
              XXL_JOB_EXECUTOR_APPNAME: "probes-test",
              XXL_JOB_EXECUTOR_IP: "127.0.0.1",
              XXL_JOB_EXECUTOR_HOST: "127.0.0.1",
              XXL_JOB_EXECUTOR_PORT: "0",
              XXL_JOB_EXECUTOR_LOGPATH: logPath,
              XXL_JOB_EXECUTOR_SHUTDOWN_GRACE_SECONDS: "1"
            },
            stdio: "ignore"
          })
        ),
        (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
      )
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      yield* waitUntil("the executor to register", Effect.map(admin.executors, (list) => list.length > 0), 20_000)
      const address = (yield* admin.executors)[0]
      const port = Number(new URL(address).port)
      // No /ready before the signal: the first one comes during the drain.
      assert.strictEqual((yield* request(port, "/health")).status, 200)

      const { reply } = yield* admin.trigger({
        executor: address,
        logId: 1,
        jobId: 1,
        handler: "sleep",
        params: "60000"
      })
      assert.strictEqual(reply.code, 200)
      child.kill("SIGTERM")
      // Once the executor has said goodbye to the admin, the signal has surely been handled.
      yield* waitUntil(
        "the executor to leave the admin's registry",
        Effect.map(admin.registrations, (list) => list.some((r) => r.kind === "registryRemove"))
      )
      assert.deepStrictEqual(yield* request(port, "/ready"), {
        status: 503,
        type: "text/plain; charset=utf-8",
        body: drainingText + "\n"
      })
      assert.strictEqual(
        drainingText,
        "not ready: the executor is shutting down; running jobs are draining"
      )
      assert.strictEqual((yield* request(port, "/health")).status, 200)
      // The drain goes on: the sleeping run is stopped after the 1 s grace and reported, then the process ends.
      yield* Effect.promise(() => exited)
      assert.include((yield* admin.callbacks).find((item) => item.logId === 1)?.handleMsg, "web container destroy")
    }).pipe(Effect.provide(MockAdmin.layerServe())))
})
