/**
 * Whether the app gave the executor a tracer. Spans cost time and memory per run; with Effect's own tracer,
 * which exports nowhere, the executor makes none.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

/** Effect's own tracer (it is not exported: read from the default runtime). */
const defaultTracer = Effect.runSync(Effect.tracerWith(Effect.succeed))

/** @internal */
export const isTracing: Effect.Effect<boolean> = Effect.tracerWith((tracer) => Effect.succeed(tracer !== defaultTracer))
