/**
 * A runnable executor with the demo jobs: `npm start`.
 *
 * With `XXL_JOB_ADMIN_ADDRESSES` set it is a real executor for that admin, configured from the XXL_JOB_*
 * environment variables. Without it, it starts an embedded mock admin on loopback, registers with it, and
 * the mock admin triggers the demo jobs every few seconds, printing each run's result and log: no Java
 * needed. `npm start -- --once` runs one round and exits.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Duration, Effect, Layer, Logger, LogLevel, Schedule } from "effect"
// In your project: import { Executor, ExecutorConfig, MockAdmin } from "effect-xxl-job"
import { Executor, ExecutorConfig, MockAdmin } from "../src/index.js"
import { jobs } from "./jobs.js"

const defaults: ExecutorConfig.Options = {
  appName: "effect-xxl-job-demo",
  logPath: "logs/xxl-job",
  port: 9999
}

const once = process.argv.includes("--once")

/** One round of demo triggers, printed as the admin would show them. */
const demoRound = (admin: MockAdmin.Service) => {
  const show = (handler: string, options: Partial<MockAdmin.TriggerOptions> = {}) =>
    Effect.gen(function*() {
      const triggered = yield* admin.trigger({ handler, ...options })
      const label = `${handler}${options.params ? ` ${options.params}` : ""}`
      if (triggered.reply.code !== 200) {
        console.log(`✗ ${label}: trigger refused: ${triggered.reply.msg}`)
        return
      }
      const result = yield* admin.result(triggered.logId)
      const mark = result.handleCode === 200 ? "✔" : "✗"
      console.log(`${mark} ${label} (logId ${triggered.logId}) → ${result.handleCode} ${result.handleMsg ?? ""}`)
      const log = yield* admin.log(triggered.logId)
      for (const line of log.logContent.trimEnd().split("\n")) console.log(`    │ ${line}`)
    })
  return Effect.gen(function*() {
    console.log(`\n── demo round ── (executors: ${(yield* admin.executors).join(", ")})`)
    yield* show("echo", { params: "hello from the mock admin" })
    yield* show("logging")
    yield* show("fail")
    yield* Effect.forEach([0, 1, 2], (shardIndex) => show("sharding", { shardIndex, shardTotal: 3 }), {
      concurrency: "unbounded",
      discard: true
    })
    yield* show("sleep", { params: "{\"seconds\": 5}", timeoutSeconds: 1 })
    yield* show("sleep", { params: "not json" })
    yield* show("download", { params: "{\"files\": 3}" })
    yield* show("primes", { params: "{\"below\": 2000000}" })
    yield* show("primes", { params: "{\"below\": 1000000000}", timeoutSeconds: 1 })
  })
}

const withMockAdmin = Layer.scopedDiscard(Effect.gen(function*() {
  // LogIds from the clock: this admin forgets its runs when it stops, and the log files stay.
  const admin = yield* MockAdmin.serve({ firstLogId: Math.floor(Date.now() / 1000) })
  console.log(`No XXL_JOB_ADMIN_ADDRESSES set: using an embedded mock admin at ${admin.url}`)
  const executor = Executor.layer(jobs).pipe(
    Layer.provide(ExecutorConfig.layerFromEnv({
      ...defaults,
      ip: "127.0.0.1",
      host: "127.0.0.1",
      adminAddresses: admin.url
    }))
  )
  yield* Layer.build(executor)
  yield* admin.executors.pipe(
    Effect.repeat({ until: (list) => list.length > 0, schedule: Schedule.spaced(Duration.millis(20)) })
  )
  if (once) {
    yield* demoRound(admin)
    return
  }
  yield* demoRound(admin).pipe(
    Effect.catchAll((error) => Effect.sync(() => console.log(`demo round failed: ${error.message}`))),
    Effect.repeat(Schedule.spaced(Duration.seconds(10))),
    Effect.forkScoped
  )
}))

const main = process.env.XXL_JOB_ADMIN_ADDRESSES
  ? Layer.launch(Executor.layerFromEnv(jobs, defaults))
  : once
  ? Effect.scoped(Layer.build(withMockAdmin))
  : Layer.launch(withMockAdmin)

main.pipe(Logger.withMinimumLogLevel(LogLevel.Info), NodeRuntime.runMain)
