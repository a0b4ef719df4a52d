/**
 * The bench's executor process: effect-xxl-job with one trivial job, file logs on, configured from the
 * XXL_JOB_* variables. Prints `READY <port>` once it listens.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { Executor, Job } from "../../src/index.js"

const Trivial = Job.make({ name: "trivial", run: Effect.succeed("ok") })

const announce = Layer.effectDiscard(
  Effect.flatMap(Executor.Executor, ({ port }) => Effect.sync(() => console.log(`READY ${port}`)))
)

Layer.launch(announce.pipe(Layer.provide(Executor.layerFromEnv(Job.registry(Trivial))))).pipe(
  Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain
)
