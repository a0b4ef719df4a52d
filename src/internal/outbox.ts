/**
 * Results on their way to the admin. A finished run's result is journaled (with the file store) as it is
 * taken, sent in batches of at most `callbackBatchSize`, retried with backoff up to 30 s for as
 * long as the admin is away, and forgotten only once an admin answered code 200: delivery is at least once.
 * Results left by an earlier process are sent first. The outbox is bounded by age and count; whatever the
 * bounds drop is logged as an error, never silently. Running jobs never wait for the admin.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { AdminClient, type AdminError } from "../AdminClient.js"
import { ExecutorConfig } from "../ExecutorConfig.js"
import { CallbackItem, Code, type TriggerParam } from "../Wire.js"
import { describeFailure, executorSettings } from "./adminHints.js"
import { plainCallbackOf } from "./adminHttp.js"
import { whileClosing } from "./closing.js"
import { formatEntry, timestamp } from "./logLines.js"
import * as Messages from "./messages.js"
import * as Metrics from "./metrics.js"
import { type Entry, type OpenTrigger, OutboxStore } from "./outboxStore.js"
import { RunLogs } from "./runLogs.js"
import { isTracing } from "./tracing.js"
import { trustedInstance } from "./wireCodecs.js"

/**
 * What the executor owes the admin, from the moment a trigger is accepted until an admin has taken its
 * result. Plain calls: a trigger is admitted and a run ends outside any fiber.
 *
 * @internal
 */
export interface Service {
  /**
   * Records an accepted trigger (journaled, with the file store); `recorded` is called once it would survive
   * this process crashing: `/run` answers then. A trigger left without a result by a crash gets one at the
   * next start.
   */
  readonly admit: (trigger: TriggerParam, recorded: () => void) => void
  /** The trigger's run has started (so that a crash during it is reported as "may have partly run"). */
  readonly started: (trigger: TriggerParam) => void
  /**
   * Takes a trigger's result for delivery (and journals it). Never fails, never waits for the admin or the
   * disk.
   */
  readonly offer: (trigger: TriggerParam, code: number, msg: string | undefined) => void
  /** Results not yet accepted by an admin. */
  readonly backlog: Effect.Effect<number>
  /** Waits until every result offered so far has been accepted (or dropped by the bounds). */
  readonly drained: Effect.Effect<void>
}

/** @internal */
export class Outbox extends Context.Tag("effect-xxl-job/internal/Outbox")<Outbox, Service>() {}

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
 * Why a call did not deliver, on one line: the admin error's message, or what interrupted or broke the call,
 * for the runs' logs (the callback-fail marker); and for the executor's warning, the same with what to look
 * at (a wrong token, a wrong context path: as the registry beat says it). No stack trace belongs in either.
 */
interface Problem {
  readonly message: string
  readonly advice: string
}

const problemOfError = (error: AdminError): Problem => ({
  message: error.message,
  advice: describeFailure(error, executorSettings)
})

const problemOf = (cause: Cause.Cause<AdminError>): Problem => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return problemOfError(failure.value)
  const defect = Cause.squash(cause)
  const message = Cause.isInterruptedOnly(cause)
    ? "the call was interrupted"
    : `the call failed unexpectedly (${
      (defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect)).replace(/\s*\n\s*/g, " ")
    })`
  return { message, advice: message }
}

/** A trigger's result for the admin, built from a decoded trigger and our own result: no need to validate again. */
const callbackItem = (
  trigger: { readonly logId: number; readonly logDateTime: number },
  code: number,
  msg: string | undefined
) =>
  trustedInstance(CallbackItem, {
    logId: trigger.logId,
    logDateTim: trigger.logDateTime,
    handleCode: code,
    handleMsg: msg
  })

/**
 * The result of a trigger an earlier process accepted and left without one, taken `now`, and the lines for
 * its log. It may have partly run (its run had started) or not at all; either is a failure, so the admin's
 * own retry, if the job's owner configured one, runs it again.
 */
const resultOfLostRun = (trigger: OpenTrigger, now: number): { readonly entry: Entry; readonly log: string } => {
  const acceptedAt = timestamp(new Date(trigger.at))
  const msg = trigger.started
    ? Messages.runningKilled(Messages.stoppedDuringRun(acceptedAt))
    : Messages.queuedKilled(Messages.stoppedBeforeRun(acceptedAt))
  const log = formatEntry({
    date: new Date(now),
    source: "executor",
    level: "ERROR",
    thread: "restart",
    message: Messages.logEnd(Code.fail, msg)
  })
  // Its age counts from now, as any result's: the bounds must not drop it for how long ago it was accepted.
  return { entry: { id: trigger.id, at: now, item: callbackItem(trigger, Code.fail, msg) }, log }
}

/** @internal */
export const make = Effect.gen(function*() {
  const settings = yield* ExecutorConfig
  const admin = yield* AdminClient
  const runLogs = yield* RunLogs
  const store = yield* OutboxStore
  const clock = yield* Effect.clock
  const runFork = yield* FiberSet.makeRuntime<never, void, AdminError>()
  // A span per callback batch only with a tracer that exports it (see internal/tracing).
  const tracing = yield* isTracing
  // The client's plain form, when it has one (ours does) and no span is wanted: see `send`.
  const plainCallback = tracing ? undefined : plainCallbackOf(admin)

  /** Every result not yet taken by an admin, oldest first (Map keeps insertion order). */
  const pending = new Map<number, Entry>()
  /** Ids in the order they are to be sent, from `sendFrom` on. */
  let toSend: Array<number> = []
  let sendFrom = 0
  const waiting = () => toSend.length - sendFrom
  const empty = yield* Effect.makeLatch(true)
  let nextId = 1

  const forget = (ids: ReadonlyArray<number>) => {
    for (const id of ids) pending.delete(id)
    if (pending.size === 0) empty.unsafeOpen()
    store.remove(ids)
  }

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
      Effect.sync(() => forget(dropped.map((entry) => entry.id)))
    )
  })

  /** Appends `line` to each result's run log (written behind: a plain call per result, no Effect each). */
  const markLogs = (batch: ReadonlyArray<Entry>, line: string) => {
    for (const entry of batch) runLogs.append({ logId: entry.item.logId, logDateTime: entry.item.logDateTim }, line)
  }

  /** The next results to send, at most `callbackBatchSize`. */
  const takeBatch = (): Array<Entry> => {
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
    return ids.flatMap((id) => pending.get(id) ?? [])
  }

  /** Batches under way: being sent, or waiting for their retry. */
  let delivering = 0
  /** Set once closing has given up waiting: the calls still under way are being interrupted. */
  let closed = false
  let pumpScheduled = false

  /**
   * Starts deliveries for what waits: one batch at a time while there is less than a full batch (results
   * that come meanwhile gather into the next one, as behind Java's drainTo), more at once, up to
   * `deliveriesAtOnce`, while full batches wait. Runs after the current synchronous work, so that the
   * results of one turn of the event loop share a batch.
   */
  const pump = () => {
    pumpScheduled = false
    while (
      waiting() > 0 &&
      (delivering === 0 || (delivering < deliveriesAtOnce && waiting() >= settings.callbackBatchSize))
    ) {
      const batch = takeBatch()
      if (batch.length === 0) continue
      delivering++
      send(batch, 1)
    }
  }
  const schedulePump = () => {
    if (pumpScheduled) return
    pumpScheduled = true
    queueMicrotask(pump)
  }
  const delivered = () => {
    delivering--
    schedulePump()
  }

  /** How to abort each plain admin call under way (see `send`): closing does, once it gives up waiting. */
  const calls = new Set<() => void>()

  /**
   * Attempt `attempt` at one batch; it ends (`delivered`) once an admin took it or the bounds dropped it.
   * The admin's answer is handled by a plain callback (the client's plain form, `plainCallbackOf`), or by the
   * observer of the call's fiber when the client has no plain form or the call is traced: a batch the admin
   * takes at once (nearly all of them) costs no Effect at all. A loop of Effects per batch (a latch to wait
   * on, the call, the bookkeeping) cost the event loop about as much as the HTTP request itself under the
   * bench's load, and a fiber per call was still over a quarter of the callbacks' share (perf). A failed call
   * waits for its retry in a fiber, on the Effect clock.
   */
  const send = (batch: ReadonlyArray<Entry>, attempt: number): void => {
    const live = batch.filter((entry) => pending.has(entry.id))
    if (live.length === 0) return delivered()
    const items = live.map((entry) => entry.item)
    if (plainCallback !== undefined) {
      const abort = plainCallback(items, (error) => {
        calls.delete(abort)
        answered(batch, live, attempt, error === undefined ? undefined : problemOfError(error))
      })
      calls.add(abort)
      return
    }
    const call = admin.callback(items)
    runFork(
      tracing
        ? Effect.withSpan(call, "xxl-job.callback", { attributes: { "xxl.callback.results": live.length, attempt } })
        : call
    ).addObserver((exit) => answered(batch, live, attempt, Exit.isSuccess(exit) ? undefined : problemOf(exit.cause)))
  }

  /**
   * Attempt `attempt` at `batch` (`live`, the part of it still pending) was answered: taken when `problem` is
   * undefined, else retried after a wait, unless closing has given up meanwhile (what was not taken stays, on
   * disk with the file store).
   */
  const answered = (
    batch: ReadonlyArray<Entry>,
    live: ReadonlyArray<Entry>,
    attempt: number,
    problem: Problem | undefined
  ) => {
    if (problem === undefined) {
      forget(live.map((entry) => entry.id))
      // The marker is for people reading the log; the next batch does not wait for it.
      markLogs(live, Messages.logCallbackFinish)
      return delivered()
    }
    if (closed) return
    runFork(retryLater(live, attempt, problem)).addObserver((waited) => {
      if (Exit.isSuccess(waited)) send(batch, attempt + 1)
    })
  }

  /** After failed attempt `attempt`: says so, waits (1 s doubling to 30 s), and drops what the bounds drop. */
  const retryLater = (live: ReadonlyArray<Entry>, attempt: number, why: Problem) =>
    Effect.gen(function*() {
      yield* Metric.increment(Metrics.callbackFailures)
      const delay = retryDelay(attempt)
      if (attempt === 1) markLogs(live, Messages.logCallbackFail(why.message))
      yield* Effect.logWarning(
        `callback of ${live.length} result(s) failed (attempt ${attempt}), next try in ${
          Duration.format(delay)
        }: ${why.advice}`
      )
      yield* Effect.sleep(delay)
      yield* enforceBounds
    })

  const enqueue = (entries: ReadonlyArray<Entry>) => {
    for (const entry of entries) {
      pending.set(entry.id, entry)
      toSend.push(entry.id)
    }
    if (pending.size > 0) empty.unsafeClose()
    schedulePump()
  }

  // What an earlier process left goes first: its results, and a result for each trigger it accepted and left
  // without one.
  // (A loop, not Math.max(...ids): a spread of a large journal's ids overflows the stack.)
  for (const owed of [...store.recovered, ...store.openTriggers]) nextId = Math.max(nextId, owed.id + 1)
  if (store.recovered.length + store.openTriggers.length > 0) {
    const now = clock.unsafeCurrentTimeMillis()
    const lostRuns = store.openTriggers.map((trigger) => {
      const { entry, log } = resultOfLostRun(trigger, now)
      runLogs.append({ logId: trigger.logId, logDateTime: trigger.logDateTime }, log)
      return entry
    })
    if (store.recovered.length > 0) {
      yield* Effect.logInfo(
        `callback outbox: ${store.recovered.length} result(s) left by an earlier run, sending first`
      )
    }
    if (lostRuns.length > 0) {
      yield* Effect.logWarning(
        `callback outbox: ${lostRuns.length} trigger(s) accepted by an earlier run had no result (the process ` +
          `stopped); reporting them failed: logIds ${lostRuns.map((entry) => entry.item.logId).join(",")}`
      )
      store.add(lostRuns)
    }
    enqueue([...store.recovered, ...lostRuns].sort((a, b) => a.id - b.id))
    yield* enforceBounds
  }

  // Closing: give the admin a bounded time to take what is left, and say what stays for the next start.
  yield* Effect.addFinalizer(() =>
    whileClosing(empty.await.pipe(
      Effect.timeout(closeGrace),
      Effect.ensuring(Effect.sync(() => {
        closed = true
        for (const abort of calls) abort()
        calls.clear()
      })),
      Effect.catchAll(() =>
        store.durable
          ? Effect.logWarning(`callback outbox: ${pending.size} result(s) kept on disk for the next start`)
          : Effect.logError(`callback outbox: closed with ${pending.size} result(s) the admin has not accepted; lost`)
      )
    ))
  )

  /** Each accepted trigger's id: its result is journaled under the same one. */
  const ids = new WeakMap<TriggerParam, number>()

  const admit = (trigger: TriggerParam, recorded: () => void): void => {
    const id = nextId++
    ids.set(trigger, id)
    const at = clock.unsafeCurrentTimeMillis()
    store.admit({ id, at, logId: trigger.logId, logDateTime: trigger.logDateTime }, recorded)
  }

  const started = (trigger: TriggerParam): void => {
    const id = ids.get(trigger)
    if (id !== undefined) store.started(id)
  }

  const offer = (trigger: TriggerParam, code: number, msg: string | undefined): void => {
    const id = ids.get(trigger) ?? nextId++
    ids.delete(trigger)
    const entry: Entry = { id, at: clock.unsafeCurrentTimeMillis(), item: callbackItem(trigger, code, msg) }
    enqueue([entry])
    store.add([entry])
    if (pending.size > settings.callbackMaxItems) runFork(enforceBounds)
  }

  return {
    admit,
    started,
    offer,
    backlog: Effect.sync(() => pending.size),
    drained: empty.await
  } satisfies Service
})

/** @internal */
export const layer: Layer.Layer<Outbox, never, ExecutorConfig | AdminClient | RunLogs | OutboxStore> = Layer.scoped(
  Outbox,
  make
)
