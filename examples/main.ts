/**
 * A runnable executor with the demo jobs: `npm start`.
 *
 * With `XXL_JOB_ADMIN_ADDRESSES` set it is a real executor for that admin, configured from the XXL_JOB_*
 * environment variables (and a `.env` file). Without it, it starts the development admin on loopback
 * (`DevAdmin`): the demo jobs run on their schedules (cron and fixed rate), each trigger, result and log
 * tail is printed as it happens, and its console (a web page, URL printed) runs, kills and pauses them: no
 * Java needed. `npm start -- --once` triggers each job once and exits,
 * with code 1 when any failed (two of the demo jobs fail on purpose: `sleep` times out, `fail` fails).
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

/** The development admin, with the demo executor registered with it (both until the scope closes). */
const devAdminWithExecutor = Effect.gen(function*() {
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
  return dev
})

/** The demo jobs on their schedules, until Ctrl-C. */
const onSchedules = Layer.launch(Layer.scopedDiscard(Effect.gen(function*() {
  const dev = yield* devAdminWithExecutor
  console.log("The demo jobs run on their schedules (echo every 10 s, logging every 15 s, …); Ctrl-C stops.")
  console.log(`Open the console to run, kill or pause the demo jobs and watch their logs: ${dev.admin.url}/console/`)
})))

/** --once: each demo job once, then a last line saying how many failed (and exit code 1 if any did). */
const eachOnce = Effect.gen(function*() {
  const failed = yield* Effect.scoped(Effect.gen(function*() {
    const dev = yield* devAdminWithExecutor
    const failed: Array<string> = []
    for (const job of demoJobs) {
      const sent = yield* dev.trigger(job.jobId)
      let succeeded = sent.length > 0
      for (const triggered of sent) {
        const result = yield* Effect.either(dev.admin.result(triggered.logId))
        if (result._tag === "Left" || result.right.handleCode !== 200) succeeded = false
      }
      if (!succeeded) failed.push(`job ${job.jobId} ${job.handler}`)
    }
    // The last result's report (its log tail) is printed once its log has been read.
    yield* Effect.sleep(Duration.millis(200))
    return failed
  }))
  console.log(
    failed.length === 0
      ? `All ${demoJobs.length} demo jobs succeeded.`
      : `${failed.length} of ${demoJobs.length} demo jobs failed: ${failed.join(", ")}. ` +
        "(sleep times out and fail fails on purpose, to show how a failure looks.)"
  )
  if (failed.length > 0) process.exitCode = 1
})

const main = process.env.XXL_JOB_ADMIN_ADDRESSES
  ? Layer.launch(Executor.layerFromEnv(jobs, defaults))
  : once
  ? eachOnce
  : onSchedules

main.pipe(Logger.withMinimumLogLevel(LogLevel.Info), NodeRuntime.runMain)
