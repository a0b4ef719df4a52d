/** The repeated-signal guard listens only on the stop signals something already handles. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { countRepeatsOnce } from "../src/internal/signals.js"

describe("countRepeatsOnce", () => {
  it.scoped("an app that handles SIGTERM alone keeps Node's default for SIGINT", () =>
    Effect.gen(function*() {
      const appHandler = () => undefined
      const before = { int: process.listenerCount("SIGINT"), term: process.listenerCount("SIGTERM") }
      process.on("SIGTERM", appHandler)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.off("SIGTERM", appHandler)))
      yield* Effect.scoped(Effect.gen(function*() {
        yield* countRepeatsOnce
        assert.strictEqual(process.listenerCount("SIGTERM"), before.term + 2)
        assert.strictEqual(process.listenerCount("SIGINT"), before.int)
      }))
      assert.strictEqual(process.listenerCount("SIGTERM"), before.term + 1)
    }))
})
