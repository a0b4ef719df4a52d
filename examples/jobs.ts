/**
 * Demo jobs: what a team writes. Each is registered under a handler name; the admin triggers it by that
 * name. Most are Effects; `Download` is an async function (`Job.fromPromise`), and `Primes` runs in a worker
 * thread of its own (`Isolated.make`), since it is CPU-bound.
 */
import { Duration, Effect, Schema } from "effect"
// In your project: import { Job } from "effect-xxl-job"
import { Isolated, Job } from "../src/index.js"

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

/**
 * For code that does not use Effect: an async function. The signal aborts when the run is killed or times
 * out; pass it on (here to a timer, elsewhere to `fetch`).
 */
export const Download = Job.fromPromise({
  name: "download",
  description: "pretends to download {\"files\": n} files",
  params: Schema.parseJson(Schema.Struct({ files: Schema.Int.pipe(Schema.between(1, 100)) })),
  run: async (context, signal) => {
    for (let file = 1; file <= context.params.files; file++) {
      await new Promise((resolve) => setTimeout(resolve, 100, undefined)).then(() => signal.throwIfAborted())
      context.log(`file ${file} of ${context.params.files} done`)
    }
    return `downloaded ${context.params.files} files`
  }
})

/**
 * CPU-bound work, isolated: its module runs in a worker thread, so the executor keeps answering the admin
 * and a kill or a timeout ends it at once, even inside its loop. Params are decoded here, in the executor.
 */
export const Primes = Isolated.make({
  name: "primes",
  description: "counts the primes below {\"below\": n}, in a worker thread",
  // Named as the compiled file: under tsx (npm start) its TypeScript source beside it runs.
  module: new URL("./workers/primes.js", import.meta.url),
  params: Schema.parseJson(Schema.Struct({ below: Schema.Int.pipe(Schema.between(2, 1e9)) }))
})

export const jobs = Job.registry(Echo, Sleep, Fail, Logging, Sharding, Download, Primes)
