/**
 * One signal, counted once. Under `runMain` the first SIGINT or SIGTERM starts the executor's drain, and
 * `runMain` stops listening; a second signal then ends the process at once, by Node's default. But wrappers
 * send the same signal twice: a Ctrl-C in a terminal reaches the whole process group, and tsx's parent
 * process relays it again when the executor has not acknowledged it within 30 ms (a busy event loop), so a
 * single Ctrl-C under `tsx main.ts` ended the drain 80 ms in, its runs cut off and their results unsent.
 * While the executor runs, this listener keeps the signal from ending the process: a repeat within
 * `repeatWindowMillis` of the first is the same signal and is ignored; a later one is a deliberate second
 * signal and ends the process at once, as before.
 *
 * Installed on a signal only when something already handles it (`runMain`, or the app): an app that never
 * handles SIGINT keeps Node's default for it, ending at once, whatever it does with SIGTERM.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Os from "node:os"

/** How close a repeat of a signal must follow it to be the same one, relayed. */
export const repeatWindowMillis = 500

const stopSignals = ["SIGINT", "SIGTERM"] as const

/** Counts a repeated stop signal once while the scope is open (see the module's comment). */
export const countRepeatsOnce: Effect.Effect<void, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    // Each signal only if something handles it: one the app leaves alone keeps Node's default.
    const handled = stopSignals.filter((signal) => process.listenerCount(signal) > 0)
    let first: number | undefined
    const onSignal = (signal: NodeJS.Signals) => {
      const now = Date.now()
      if (first === undefined) first = now
      else if (now - first >= repeatWindowMillis) process.exit(128 + Os.constants.signals[signal])
    }
    for (const signal of handled) process.on(signal, onSignal)
    return { handled, onSignal }
  }),
  ({ handled, onSignal }) =>
    Effect.sync(() => {
      for (const signal of handled) process.off(signal, onSignal)
    })
)
