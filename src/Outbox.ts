/**
 * Results on their way to the admin. A finished run's result is handed to the outbox, which sends results
 * in batches (at most `callbackBatchSize` per request) and retries, backing off to 30 s, until an admin
 * answers code 200: a result is never dropped because the admin is away. Running jobs never wait for it.
 *
 * Durable storage across restarts is the outbox's next step; its shape (offer, then remove once accepted)
 * is already the one a durable store needs.
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import { AdminClient } from "./AdminClient.js"
import { ExecutorConfig } from "./ExecutorConfig.js"
import { JobLog } from "./JobLog.js"
import * as Messages from "./Messages.js"
import type { CallbackItem } from "./Wire.js"

/**
 * @since 1.0.0
 * @category models
 */
export interface Service {
  /** Takes a result for delivery; never fails and never waits for the admin. */
  readonly offer: (item: CallbackItem) => Effect.Effect<void>
  /** Results not yet accepted by an admin. */
  readonly backlog: Effect.Effect<number>
  /** Waits until every result offered so far has been accepted. */
  readonly drained: Effect.Effect<void>
}

/**
 * @since 1.0.0
 * @category tags
 */
export class Outbox extends Context.Tag("effect-xxl-job/Outbox")<Outbox, Service>() {}

/** How long closing the outbox waits for the admin to take what is left (Java waits up to 10 s). */
const closeGrace = Duration.seconds(10)

/** Retry delays while the admin is away: 1 s, doubling, at most 30 s (Java retries every 30 s). */
const retrySchedule = Schedule.exponential(Duration.seconds(1)).pipe(
  Schedule.union(Schedule.spaced(Duration.seconds(30)))
)

/**
 * @since 1.0.0
 * @category constructors
 */
export const make = Effect.gen(function*() {
  const settings = yield* ExecutorConfig
  const admin = yield* AdminClient
  const jobLog = yield* JobLog
  const queue = yield* Queue.unbounded<CallbackItem>()
  const empty = yield* Effect.makeLatch(true)
  const runFork = yield* FiberSet.makeRuntime<never, void, never>()
  let backlog = 0

  const markLogs = (batch: ReadonlyArray<CallbackItem>, entry: string) =>
    Effect.forEach(
      batch,
      (item) => jobLog.append({ logId: item.logId, logDateTime: item.logDateTim }, entry),
      { discard: true, concurrency: 16 }
    )

  /** Sends one batch until an admin accepts it, saying once in each run's log that delivery is failing. */
  const deliver = (batch: ReadonlyArray<CallbackItem>) =>
    Effect.gen(function*() {
      let attempt = 0
      yield* admin.callback(batch).pipe(
        Effect.tapError((error) =>
          Effect.gen(function*() {
            attempt++
            if (attempt === 1) yield* markLogs(batch, Messages.logCallbackFail(error.message))
            yield* Effect.logWarning(
              `callback of ${batch.length} result(s) failed (attempt ${attempt}); retrying: ${error.message}`
            )
          })
        ),
        Effect.retry(retrySchedule)
      )
      backlog -= batch.length
      if (backlog === 0) empty.unsafeOpen()
      // The marker is for people reading the log; the next batch does not wait for it.
      runFork(markLogs(batch, Messages.logCallbackFinish))
    })

  yield* Queue.takeBetween(queue, 1, settings.callbackBatchSize).pipe(
    Effect.flatMap((chunk) => deliver(Array.from(chunk))),
    Effect.catchAllCause((cause) => Effect.logError("callback loop failed; continuing", cause)),
    Effect.forever,
    Effect.interruptible,
    Effect.forkScoped
  )

  // Closing: give the admin a bounded time to take what is left, and say loudly what it did not.
  yield* Effect.addFinalizer(() =>
    empty.await.pipe(
      Effect.timeout(closeGrace),
      Effect.catchAll(() =>
        Effect.logError(`outbox closed with ${backlog} result(s) the admin has not accepted; they are lost`)
      )
    )
  )

  return {
    offer: (item) =>
      Effect.suspend(() => {
        backlog++
        empty.unsafeClose()
        return Queue.offer(queue, item)
      }),
    backlog: Effect.sync(() => backlog),
    drained: empty.await
  } satisfies Service
})

/**
 * @since 1.0.0
 * @category layers
 */
export const layer: Layer.Layer<Outbox, never, ExecutorConfig | AdminClient | JobLog> = Layer.scoped(Outbox, make)
