/**
 * The executor's side of run logs: runs (through their logger, which is synchronous) and the outbox append
 * entries here as plain calls; the entries gather for a few milliseconds, one text per run, and go to the
 * `JobLog` store in one `write`. Writes take turns: the next batch waits for the one being written, so a
 * store sees the lines of a log in order and a slow store gets bigger batches, not more calls. A read first
 * writes what has gathered, so `/log` shows every line logged before it was asked.
 *
 * A write that fails keeps its lines, ahead of what came since, and is tried again a second later. A read
 * has a deadline (`readDeadline`): the admin gives `/log` 3 s, and a store that stops answering (a Redis
 * failover, a partition) must not leave its log view with an error it cannot explain.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import { JobLog, type Lines, type LogKey } from "../JobLog.js"
import type { LogResult } from "../Wire.js"

/**
 * How long appends gather before they are written. Each write costs the event loop a fiber and the store a
 * hand-over (a message to the file writer's thread, a Redis transaction); a few milliseconds make batches of
 * many runs under load, and nobody reading a log sees the difference (a read writes at once). 25 ms rather
 * than 10: side by side under the bench's load, 7% less CPU per trigger in two runs (measured when the file
 * store gathered for itself): fewer hand-overs, and a run's callback marker more often joins its other lines
 * in one write. A crash loses at most that much of the lines not yet written.
 */
const gatherMillis = 25

/** After a failed write, when the lines it kept are tried again. */
const retryMillis = 1000

/** How long a `/log` read may take, its write of what gathered included: within the admin's 3 s call. */
export const readDeadline = Duration.seconds(2)

/**
 * A `/log` read that did not give a page: the store did not answer within the deadline, or failed.
 *
 * @internal
 */
export class LogUnreadable extends Data.TaggedError("LogUnreadable")<{ readonly reason: string }> {}

/** @internal */
export interface Service {
  /** The append function of one run's log: entries (one or more lines each) written behind, in order. */
  readonly appender: (key: LogKey) => (entry: string) => void
  /** Appends an entry to a run's log outside the run (the callback markers). */
  readonly append: (key: LogKey, entry: string) => void
  /** A page of a run's log, once everything appended so far is written; within `readDeadline`. */
  readonly read: (key: LogKey, fromLineNum: number) => Effect.Effect<LogResult, LogUnreadable>
}

/** @internal */
export class RunLogs extends Context.Tag("effect-xxl-job/internal/RunLogs")<RunLogs, Service>() {}

/** A run's lines waiting to be written; `text` grows until the batch is taken. */
interface Gathered {
  readonly key: LogKey
  text: string
}

const idOf = (key: LogKey) => `${key.logDateTime}:${key.logId}`

const make = Effect.gen(function*() {
  const store = yield* JobLog
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())
  const turn = yield* Effect.makeSemaphore(1)
  let gathered = new Map<string, Gathered>()
  let timer: ReturnType<typeof setTimeout> | undefined
  let failing = false
  let readsFailing = false

  /** Says once, until a read succeeds again, that reads fail (the admin's log view asks every 3 s). */
  const readFailed = (key: LogKey, error: LogUnreadable) =>
    Effect.suspend(() => {
      if (readsFailing) return Effect.void
      readsFailing = true
      return Effect.logWarning(`run logs: a /log read (logId ${key.logId}) failed: ${error.reason}`)
    })
  const readsAnswered = Effect.suspend(() => {
    readsFailing = false
    return Effect.logInfo("run logs: the store answers reads again")
  })

  const add = (id: string, key: LogKey, text: string) => {
    const waiting = gathered.get(id)
    if (waiting === undefined) gathered.set(id, { key, text })
    else waiting.text += text
    if (timer === undefined) timer = setTimeout(writeLater, gatherMillis)
  }

  /** Puts a failed batch back ahead of what gathered since. */
  const keep = (batch: ReadonlyArray<Lines>) => {
    const since = gathered
    gathered = new Map(batch.map((lines) => [idOf(lines.key), { key: lines.key, text: lines.text }]))
    for (const [id, { key, text }] of since) add(id, key, text)
  }

  /** Writes what has gathered, after the write under way. */
  const writeNow: Effect.Effect<void> = turn.withPermits(1)(Effect.suspend(() => {
    if (gathered.size === 0) return Effect.void
    const batch: ReadonlyArray<Lines> = Array.from(gathered.values())
    gathered = new Map()
    return store.write(batch).pipe(
      Effect.tap(() => {
        if (!failing) return Effect.void
        failing = false
        return Effect.logInfo("run logs: the store takes lines again")
      }),
      Effect.catchAllCause((cause) =>
        Effect.suspend(() => {
          keep(batch)
          clearTimeout(timer)
          timer = setTimeout(writeLater, retryMillis)
          if (failing) return Effect.void
          failing = true
          return Effect.logWarning("run logs: the store failed a write; its lines are kept and tried again", cause)
        })
      )
    )
  }))

  function writeLater() {
    timer = undefined
    runFork(writeNow)
  }

  // What gathered is written before the store closes (it closes after this layer).
  yield* Effect.addFinalizer(() =>
    Effect.zipRight(
      Effect.sync(() => {
        clearTimeout(timer)
        timer = undefined
      }),
      writeNow
    )
  )

  return {
    appender: (key) => {
      const id = idOf(key)
      return (entry) => add(id, key, entry + "\n")
    },
    append: (key, entry) => add(idOf(key), key, entry + "\n"),
    read: (key, fromLineNum) =>
      // The write goes on in a fiber of its own if the read gives up: a store's write is never cut short.
      Effect.zipRight(Fiber.join(runFork(writeNow)), store.read(key, fromLineNum)).pipe(
        Effect.timeoutFail({
          duration: readDeadline,
          onTimeout: () =>
            new LogUnreadable({ reason: `the run log store did not answer within ${Duration.format(readDeadline)}` })
        }),
        Effect.catchTag("JobLogError", (error) => Effect.fail(new LogUnreadable({ reason: error.message }))),
        Effect.tapBoth({
          onFailure: (error) => readFailed(key, error),
          onSuccess: () => readsFailing ? readsAnswered : Effect.void
        })
      )
  } satisfies Service
})

/** @internal */
export const layer: Layer.Layer<RunLogs, never, JobLog> = Layer.scoped(RunLogs, make)

/**
 * An append function that keeps a run's log within `maxBytes` (UTF-8) by keeping its head and its tail: the
 * first half of the budget is written as it comes; past it, entries wait in a window holding the latest
 * half's worth, and `close` (at the run's end) writes a marker saying how much was left out, then that window.
 * So the log's start and its end (usually the interesting parts) survive, and nothing goes silently.
 *
 * Entries that come after `close` (a fiber the job left running) are written while the budget allows; past it
 * one marker says they were not. `onWritten` hears the size of every entry written (for the metrics).
 */
export const capped = (
  append: (entry: string) => void,
  maxBytes: number,
  onWritten: (bytes: number) => void = () => undefined
): { readonly append: (entry: string) => void; readonly close: () => void } => {
  const headBudget = Math.floor(maxBytes / 2)
  const tailBudget = maxBytes - headBudget
  let written = 0
  /** The latest entries past the head, oldest first, and their size; made only when the head is full. */
  let tail: Array<{ readonly entry: string; readonly bytes: number }> | undefined
  let tailFrom = 0
  let tailBytes = 0
  let droppedEntries = 0
  let droppedBytes = 0
  let closed = false
  let droppedAfterClose = false

  const appendAfterClose = (entry: string, bytes: number) => {
    if (written + bytes <= maxBytes) {
      written += bytes
      onWritten(bytes)
      append(entry)
    } else if (!droppedAfterClose) {
      droppedAfterClose = true
      append(
        `<br>----------- log truncated: lines logged after the run ended, past this run's limit of ${maxBytes} bytes, were not written -----------`
      )
    }
  }

  const appendCapped = (entry: string) => {
    const bytes = Buffer.byteLength(entry, "utf8") + 1
    if (closed) return appendAfterClose(entry, bytes)
    if (tail === undefined && written + bytes <= headBudget) {
      written += bytes
      onWritten(bytes)
      append(entry)
      return
    }
    tail ??= []
    tail.push({ entry, bytes })
    tailBytes += bytes
    while (tailBytes > tailBudget && tailFrom < tail.length) {
      const oldest = tail[tailFrom++]
      tailBytes -= oldest.bytes
      droppedEntries++
      droppedBytes += oldest.bytes
    }
    // Let go of what left the window now and then, not on every entry.
    if (tailFrom > 1024 && tailFrom * 2 > tail.length) {
      tail = tail.slice(tailFrom)
      tailFrom = 0
    }
  }

  const close = () => {
    if (closed) return
    closed = true
    if (droppedEntries > 0) {
      append(
        `<br>----------- log truncated: ${droppedEntries} entr${
          droppedEntries === 1 ? "y" : "ies"
        } (${droppedBytes} bytes) left out here, to keep this run's log within ${maxBytes} bytes; its last ${tailBytes} bytes follow -----------`
      )
    }
    if (tail !== undefined) { for (let i = tailFrom; i < tail.length; i++) append(tail[i].entry) }
    written += tailBytes
    tail = undefined
    tailFrom = 0
    tailBytes = 0
  }

  return { append: appendCapped, close }
}
