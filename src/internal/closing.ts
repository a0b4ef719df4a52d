/**
 * Work done while a scope closes (a finalizer), that must be able to time out.
 *
 * Finalizers run uninterruptibly, so a timeout inside one cannot cut its work short; and when the scope
 * closes because its fiber was interrupted (SIGTERM under `runMain`), marking the work interruptible makes
 * it stop at once. Running it in a fiber of its own, joined, gives it an ordinary life: its sleeps sleep and
 * its timeouts fire.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

/** @internal */
export const whileClosing = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.forkDaemon(Effect.interruptible(effect)), Fiber.join)
