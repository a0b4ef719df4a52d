/**
 * Whether the app gave the executor a tracer. Spans cost time and memory per run; with Effect's own tracer,
 * which exports nowhere, the executor makes none.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

/** @internal */
export const isTracing: Effect.Effect<boolean> = Effect.tracerWith((tracer) =>
  Effect.succeed(tracer !== Context.get(DefaultServices.liveServices, Tracer.Tracer))
)
