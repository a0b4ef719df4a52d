/**
 * The development admin's console, for its tests: a development admin with an executor registered with it
 * (in process, over HTTP on loopback), and its JSON API called as the page calls it.
 */
import { Duration, Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { DevAdmin } from "../../src/dev.js"
import { Executor, ExecutorConfig, Job } from "../../src/index.js"
import { waitUntil } from "./wait.js"

/**
 * Jobs like the demo's: an echo that logs, a sleep of `{"ms": n}` that logs each 100 ms it sleeps, and one
 * that always fails.
 */
export const consoleJobs = Job.registry(
  Job.make({
    name: "echo",
    run: Effect.gen(function*() {
      const { params } = yield* Job.JobContext
      yield* Effect.log(`echoing ${params}`)
      return `hello ${params}`
    })
  }),
  Job.make({
    name: "sleep",
    run: Effect.gen(function*() {
      const { params } = yield* Job.JobContext
      const ms = (JSON.parse(params || "{}") as { ms?: number }).ms ?? 0
      for (let slept = 0; slept < ms; slept += 100) {
        yield* Effect.log(`slept ${slept} ms of ${ms}`)
        yield* Effect.sleep(Duration.millis(100))
      }
      return `slept ${ms} ms`
    })
  }),
  Job.make({
    name: "fail",
    run: Effect.zipRight(Effect.logWarning("about to fail"), Job.fail("this job always fails"))
  })
)

/** A development admin for `jobs`, with an executor of `consoleJobs` registered with it (both for the scope). */
export const devAdminWithExecutor = (jobs: ReadonlyArray<DevAdmin.JobSpec>) =>
  Effect.gen(function*() {
    const dev = yield* DevAdmin.start({ jobs, onEvent: false })
    const logPath = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-console-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
    yield* Layer.build(
      Executor.layer(consoleJobs).pipe(Layer.provide(ExecutorConfig.layer({
        adminAddresses: dev.admin.url,
        appName: "console-test",
        ip: "127.0.0.1",
        host: "127.0.0.1",
        port: 0,
        logPath,
        logRetentionDays: 0,
        // A run still going when the test ends is killed at once, not waited for.
        shutdownGraceSeconds: 0
      })))
    )
    yield* waitUntil("the executor to register", Effect.map(dev.admin.executors, (list) => list.length > 0))
    return dev
  })

/** The console's URL: the page; its API is under `api/`. */
export const consoleUrl = (dev: DevAdmin.Service) => `${dev.admin.url}/console/`

/** Calls the console's JSON API (`path` under `api/`): its status and JSON body. */
export const callApi = (dev: DevAdmin.Service, path: string, body?: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(`${consoleUrl(dev)}api/${path}`, {
      method: body === undefined ? "GET" : "POST",
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) })
    })
    return { status: response.status, body: await response.json() as any }
  })
