/**
 * A runnable executor with the demo jobs: `npm start`.
 *
 * With `XXL_JOB_ADMIN_ADDRESSES` set it is a real executor for that admin, configured from the XXL_JOB_*
 * environment variables (and a `.env` file). Without it, it starts the development admin on loopback
 * (`DevAdmin`): the demo jobs run on their schedules (cron and fixed rate), and each trigger, result and
 * log tail is printed as it happens: no Java needed. `npm start -- --once` triggers each job once and exits.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Duration, Effect, Layer, Logger, LogLevel, Schedule } from "effect"
// In your project: import { Executor, ExecutorConfig } from "effect-xxl-job" and { DevAdmin } from "effect-xxl-job/dev"
import { DevAdmin } from "../src/dev.js"
import { Executor, ExecutorConfig } from "../src/index.js"
import { jobs } from "./jobs.js"

const defaults: ExecutorConfig.Options = {
  appName: "effect-xxl-job-demo",
  logPath: "logs/xxl-job",
  port: 9999
}

const once = process.argv.includes("--once")

/** The demo jobs as the development admin knows them: when each runs, how it is routed, its params. */
const demoJobs: ReadonlyArray<DevAdmin.JobSpec> = [
  { jobId: 1, handler: "echo", params: "hello from the development admin", schedule: { everySeconds: 10 } },
  { jobId: 2, handler: "logging", schedule: { cron: "*/15 * * * * ?" } },
  { jobId: 3, handler: "sharding", route: "SHARDING_BROADCAST", schedule: { cron: "0 * * * * ?" } },
  { jobId: 4, handler: "sleep", params: "{\"seconds\": 5}", timeoutSeconds: 1, schedule: { cron: "30 * * * * ?" } },
  { jobId: 5, handler: "fail", schedule: { everySeconds: 45 } },
  { jobId: 6, handler: "download", params: "{\"files\": 3}", schedule: { everySeconds: 20 } },
  { jobId: 7, handler: "primes", params: "{\"below\": 2000000}", schedule: { everySeconds: 30 } }
]

const withDevAdmin = Layer.scopedDiscard(Effect.gen(function*() {
  const dev = yield* DevAdmin.start({
    // --once: no schedules; each job is triggered by hand below.
    jobs: once ? demoJobs.map(({ schedule: _, ...job }) => job) : demoJobs
  })
  console.log(`No XXL_JOB_ADMIN_ADDRESSES set: using the development admin at ${dev.admin.url}`)
  yield* Layer.build(
    Executor.layer(jobs).pipe(
      Layer.provide(ExecutorConfig.layerFromEnv({
        ...defaults,
        ip: "127.0.0.1",
        host: "127.0.0.1",
        adminAddresses: dev.admin.url
      }))
    )
  )
  yield* dev.admin.executors.pipe(
    Effect.repeat({ until: (list) => list.length > 0, schedule: Schedule.spaced(Duration.millis(20)) })
  )
  if (!once) {
    console.log("The demo jobs run on their schedules (echo every 10 s, logging every 15 s, …); Ctrl-C stops.")
    return
  }
  for (const job of demoJobs) {
    for (const triggered of yield* dev.trigger(job.jobId)) yield* Effect.ignore(dev.admin.result(triggered.logId))
  }
  // The last result's report (its log tail) is printed once its log has been read.
  yield* Effect.sleep(Duration.millis(200))
}))

const main = process.env.XXL_JOB_ADMIN_ADDRESSES
  ? Layer.launch(Executor.layerFromEnv(jobs, defaults))
  : once
  ? Effect.scoped(Layer.build(withDevAdmin))
  : Layer.launch(withDevAdmin)

main.pipe(Logger.withMinimumLogLevel(LogLevel.Info), NodeRuntime.runMain)
