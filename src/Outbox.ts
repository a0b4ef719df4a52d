/**
 * Results on their way to the admin. A finished run's result is journaled (with the file store) as it is
 * taken, sent in batches of at most `callbackBatchSize`, retried with backoff up to 30 s for as
 * long as the admin is away, and forgotten only once an admin answered code 200: delivery is at least once.
 * Results left by an earlier process are sent first. The outbox is bounded by age and count; whatever the
 * bounds drop is logged as an error, never silently. Running jobs never wait for the admin.
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { AdminClient } from "./AdminClient.js"
import { ExecutorConfig } from "./ExecutorConfig.js"
import { whileClosing } from "./internal/closing.js"
import { isTracing } from "./internal/tracing.js"
import { JobLog } from "./JobLog.js"
import * as Messages from "./Messages.js"
import * as Metrics from "./Metrics.js"
import { type Entry, OutboxStore } from "./OutboxStore.js"
import type { CallbackItem } from "./Wire.js"

/**
 * @since 1.0.0
 * @category models
 */
export interface Service {
  /** Takes a result for delivery (and journals it). Never fails, never waits for the admin or the disk. */
  readonly offer: (item: CallbackItem) => Effect.Effect<void>
  /** `offer` as a plain call, for code that is not running in a fiber (a run's end, seen by its observer). */
  readonly unsafeOffer: (item: CallbackItem) => void
  /** Results not yet accepted by an admin. */
  readonly backlog: Effect.Effect<number>
  /** Waits until every result offered so far has been accepted (or dropped by the bounds). */
  readonly drained: Effect.Effect<void>
}

/**
 * @since 1.0.0
 * @category tags
 */
export class Outbox extends Context.Tag("effect-xxl-job/Outbox")<Outbox, Service>() {}

/** How long closing the outbox waits for the admin to take what is left (Java waits up to 10 s). */
const closeGrace = Duration.seconds(10)

/**
 * Batches on their way to the admin at once, at most. With one, a round trip per batch would bound the
 * results per second under load (Java sends everything queued in one request instead).
 */
const deliveriesAtOnce = 4

/** The wait before retry `attempt` (1-based) while the admin is away: 1 s, doubling, at most 30 s. */
export const retryDelay = (attempt: number): Duration.Duration =>
  Duration.seconds(Math.min(30, 2 ** Math.min(attempt - 1, 5)))

/**
 * @since 1.0.0
 * @category constructors
 */
export const make = Effect.gen(function*() {
  const settings = yield* ExecutorConfig
  const admin = yield* AdminClient
  const jobLog = yield* JobLog
  const store = yield* OutboxStore
  const clock = yield* Effect.clock
  const runFork = yield* FiberSet.makeRuntime<never, void, never>()
  // A span per callback batch only with a tracer that exports it (see internal/tracing).
  const tracing = yield* isTracing

  /** Every result not yet taken by an admin, oldest first (Map keeps insertion order). */
  const pending = new Map<number, Entry>()
  /**
   * Ids in the order they are to be sent, from `sendFrom` on. `ready` is open while there are some, and
   * `backlogged` while there is at least a full batch.
   */
  let toSend: Array<number> = []
  let sendFrom = 0
  const ready = yield* Effect.makeLatch(false)
  const backlogged = yield* Effect.makeLatch(false)
  const waitingChanged = () => {
    const waiting = toSend.length - sendFrom
    if (waiting > 0) ready.unsafeOpen()
    else ready.unsafeClose()
    if (waiting >= settings.callbackBatchSize) backlogged.unsafeOpen()
    else backlogged.unsafeClose()
  }
  const empty = yield* Effect.makeLatch(true)
  let nextId = 1

  const forget = (ids: ReadonlyArray<number>) =>
    Effect.suspend(() => {
      for (const id of ids) pending.delete(id)
      if (pending.size === 0) empty.unsafeOpen()
      return store.remove(ids)
    })

  /** Drops what is past the bounds (oldest first), saying so loudly: a dropped result never reaches the admin. */
  const enforceBounds = Effect.suspend(() => {
    const tooOld = clock.unsafeCurrentTimeMillis() - Duration.toMillis(settings.callbackMaxAge)
    const dropped: Array<Entry> = []
    for (const entry of pending.values()) {
      if (entry.at >= tooOld && pending.size - dropped.length <= settings.callbackMaxItems) break
      dropped.push(entry)
    }
    if (dropped.length === 0) return Effect.void
    return Effect.zipRight(
      Effect.logError(
        `callback outbox: DROPPED ${dropped.length} result(s) the admin never accepted (older than ${
          Duration.format(settings.callbackMaxAge)
        } or past ${settings.callbackMaxItems} held); logIds ${dropped.map((e) => e.item.logId).join(",")}`
      ),
      forget(dropped.map((entry) => entry.id))
    )
  })

  /** Appends `line` to each result's run log (written behind: a plain call per result, no Effect each). */
  const markLogs = (batch: ReadonlyArray<Entry>, line: string) => {
    for (const entry of batch) jobLog.append({ logId: entry.item.logId, logDateTime: entry.item.logDateTim }, line)
  }

  /**
   * Sends one batch until an admin accepts it or the bounds drop it. It does not wait for the journal: a
   * result lives only in memory until its record is written either way, and waiting cost a turn of the
   * event loop per batch (measured: half of a kill's time to reach the admin).
   */
  const deliver = (batch: ReadonlyArray<Entry>) =>
    Effect.gen(function*() {
      for (let attempt = 1;; attempt++) {
        const live = batch.filter((entry) => pending.has(entry.id))
        if (live.length === 0) return
        const call = admin.callback(live.map((entry) => entry.item))
        const sent = yield* Effect.either(
          tracing
            ? Effect.withSpan(call, "xxl-job.callback", {
              attributes: { "xxl.callback.results": live.length, attempt }
            })
            : call
        )
        if (Either.isRight(sent)) {
          yield* forget(live.map((entry) => entry.id))
          // The marker is for people reading the log; the next batch does not wait for it.
          markLogs(live, Messages.logCallbackFinish)
          return
        }
        yield* Metric.increment(Metrics.callbackFailures)
        const delay = retryDelay(attempt)
        if (attempt === 1) markLogs(live, Messages.logCallbackFail(sent.left.message))
        yield* Effect.logWarning(
          `callback of ${live.length} result(s) failed (attempt ${attempt}), next try in ${
            Duration.format(delay)
          }: ${sent.left.message}`
        )
        yield* Effect.sleep(delay)
        yield* enforceBounds
      }
    })

  const enqueue = (entries: ReadonlyArray<Entry>) => {
    for (const entry of entries) {
      pending.set(entry.id, entry)
      toSend.push(entry.id)
    }
    if (pending.size > 0) empty.unsafeClose()
    waitingChanged()
  }

  /** The next results to send, at most `callbackBatchSize`, once `latch` opens. */
  const nextBatch = (latch: Effect.Latch) =>
    Effect.zipRight(
      latch.await,
      Effect.sync(() => {
        const ids = toSend.slice(sendFrom, sendFrom + settings.callbackBatchSize)
        sendFrom += ids.length
        // Let go of the ids already taken: at once when all are, else now and then (under a steady load the
        // list may never empty).
        if (sendFrom === toSend.length) {
          toSend = []
          sendFrom = 0
        } else if (sendFrom > 4096 && sendFrom * 2 > toSend.length) {
          toSend = toSend.slice(sendFrom)
          sendFrom = 0
        }
        waitingChanged()
        return ids.flatMap((id) => pending.get(id) ?? [])
      })
    )

  // What an earlier process left goes first.
  if (store.recovered.length > 0) {
    nextId = store.recovered[store.recovered.length - 1].id + 1
    yield* Effect.logInfo(`callback outbox: ${store.recovered.length} result(s) left by an earlier run, sending first`)
    enqueue(store.recovered)
    yield* enforceBounds
  }

  const deliveryLoop = (latch: Effect.Latch) =>
    nextBatch(latch).pipe(
      Effect.flatMap((batch) => batch.length === 0 ? Effect.void : deliver(batch)),
      Effect.catchAllCause((cause) => Effect.logError("callback outbox: delivery loop failed; continuing", cause)),
      Effect.forever,
      Effect.interruptible,
      Effect.forkScoped
    )
  // One loop sends whatever waits; results that come meanwhile gather into its next batch, as behind
  // Java's drainTo. The others help only while full batches are waiting.
  yield* deliveryLoop(ready)
  for (let i = 1; i < deliveriesAtOnce; i++) yield* deliveryLoop(backlogged)

  // Closing: give the admin a bounded time to take what is left, and say what stays for the next start.
  yield* Effect.addFinalizer(() =>
    whileClosing(empty.await.pipe(
      Effect.timeout(closeGrace),
      Effect.catchAll(() =>
        store.durable
          ? Effect.logWarning(`callback outbox: ${pending.size} result(s) kept on disk for the next start`)
          : Effect.logError(`callback outbox: closed with ${pending.size} result(s) the admin has not accepted; lost`)
      )
    ))
  )

  const unsafeOffer = (item: CallbackItem): void => {
    const entry: Entry = { id: nextId++, at: clock.unsafeCurrentTimeMillis(), item }
    enqueue([entry])
    store.add([entry])
    if (pending.size > settings.callbackMaxItems) runFork(enforceBounds)
  }

  return {
    offer: (item) => Effect.sync(() => unsafeOffer(item)),
    unsafeOffer,
    backlog: Effect.sync(() => pending.size),
    drained: empty.await
  } satisfies Service
})

/**
 * @since 1.0.0
 * @category layers
 */
export const layer: Layer.Layer<Outbox, never, ExecutorConfig | AdminClient | JobLog | OutboxStore> = Layer.scoped(
  Outbox,
  make
)
