/**
 * Waiting, in real time, for something a test cannot be told about: a process, a server, a file.
 */
import { Duration, Effect } from "effect"

/**
 * Polls `check` (a plain test, or an Effect such as one reading the mock admin) every 10 ms until it holds;
 * dies naming `what` after `timeoutMs`.
 */
export const waitUntil = (
  what: string,
  check: (() => boolean) | Effect.Effect<boolean>,
  timeoutMs = 4000
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!(Effect.isEffect(check) ? yield* check : check())) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep(Duration.millis(10))
    }
  })
