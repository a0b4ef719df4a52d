/**
 * Demo jobs: what a team writes. Each is an Effect registered under a handler name; the admin triggers
 * it by that name.
 */
import { Duration, Effect, Schema } from "effect"
// In your project: import { Job } from "effect-xxl-job"
import { Job } from "../src/index.js"

/** Answers with its params: the admin shows them as the run's result message. */
export const Echo = Job.make({
  name: "echo",
  description: "answers with its params",
  run: Effect.map(Job.JobContext, (context) => context.params)
})

/** Sleeps for `{"seconds": n}` (typed params, decoded with a Schema): try kill and timeout on it. */
export const Sleep = Job.make({
  name: "sleep",
  description: "sleeps {\"seconds\": n}",
  params: Schema.parseJson(Schema.Struct({ seconds: Schema.Number.pipe(Schema.between(0, 3600)) })),
  run: ({ seconds }) =>
    Effect.gen(function*() {
      yield* Effect.log(`sleeping ${seconds}s`)
      yield* Effect.sleep(Duration.seconds(seconds))
      return `slept ${seconds}s`
    }).pipe(Effect.onInterrupt(() => Effect.log("interrupted while sleeping")))
})

/** Always fails with a message for the admin. */
export const Fail = Job.make({
  name: "fail",
  description: "always fails",
  run: Effect.gen(function*() {
    yield* Effect.logWarning("about to fail")
    return yield* Job.fail("this job always fails")
  })
})

/** Logs at several levels, with annotations: all of it lands in the run's log. */
export const Logging = Job.make({
  name: "logging",
  description: "writes a few log lines",
  run: Effect.gen(function*() {
    const context = yield* Job.JobContext
    yield* Effect.log(`run ${context.logId} of job ${context.jobId}`)
    for (let step = 1; step <= 3; step++) {
      yield* Effect.logInfo(`step ${step} of 3`).pipe(Effect.annotateLogs("step", step))
      yield* Effect.sleep(Duration.millis(100))
    }
    yield* Effect.logWarning("a warning, for the colour")
    return "logged 5 lines"
  })
})

/** Works on its shard of the data: the admin's SHARDING_BROADCAST sends one trigger per executor. */
export const Sharding = Job.make({
  name: "sharding",
  description: "processes its shard of 10 items",
  run: Effect.gen(function*() {
    const { shardIndex, shardTotal } = yield* Job.JobContext
    const mine = Array.from({ length: 10 }, (_, i) => i).filter((i) => i % shardTotal === shardIndex)
    yield* Effect.log(`shard ${shardIndex}/${shardTotal} takes items ${mine.join(",")}`)
    return `shard ${shardIndex}/${shardTotal}: ${mine.length} items`
  })
})

export const jobs = Job.registry(Echo, Sleep, Fail, Logging, Sharding)
