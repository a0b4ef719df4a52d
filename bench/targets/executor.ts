/**
 * The bench's executor process: effect-xxl-job with the bench's jobs, file logs on, configured from the
 * XXL_JOB_* variables. Prints `READY <port>` once it listens.
 *
 * - `trivial` answers at once (throughput);
 * - `sleep` never ends by itself: it waits, interruptibly, until it is killed (scale, kill);
 * - `lines` writes as many lines to its run log as its params say, with `Effect.log` (logs).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel, Schema } from "effect"
import type * as Package from "../../src/index.js"
import { fromPackage } from "./fromPackage.js"

// The package as the bench compiled it, else the sources (see `fromPackage`).
const { Executor, Job } = await import(fromPackage("index")) as typeof Package

const Trivial = Job.make({ name: "trivial", run: Effect.succeed("ok") })

const Sleep = Job.make({ name: "sleep", run: Effect.never })

const Lines = Job.make({
  name: "lines",
  params: Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()),
  run: (count) =>
    Effect.gen(function*() {
      for (let line = 1; line <= count; line++) yield* Effect.log(`line ${line} of ${count}`)
      return `wrote ${count} lines`
    }).pipe(
      // The process below keeps the executor's own output to warnings, and a run inherits that minimum
      // level: without this, these Info lines would be dropped before they reach the run's log.
      Logger.withMinimumLogLevel(LogLevel.Info)
    )
})

// SIGUSR2 asks what the memory is made of: the heap after a full GC (the bench starts us with --expose-gc).
process.on("SIGUSR2", () => {
  ;(globalThis as { gc?: () => void }).gc?.()
  console.log(`MEMORY ${JSON.stringify(process.memoryUsage())}`)
})

const announce = Layer.effectDiscard(
  Effect.flatMap(Executor.Executor, ({ port }) => Effect.sync(() => console.log(`READY ${port}`)))
)

Layer.launch(announce.pipe(Layer.provide(Executor.layerFromEnv(Job.registry(Trivial, Sleep, Lines))))).pipe(
  Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain
)
