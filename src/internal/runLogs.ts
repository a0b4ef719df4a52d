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
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import { JobLog, type Lines, type LogKey } from "../JobLog.js"
import type { LogResult } from "../Wire.js"
import type { JobLogError } from "./jobLogError.js"
import * as Messages from "./messages.js"
import * as Metrics from "./metrics.js"

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

/**
 * After a failure, until every backlog has caught up, a write goes out this often (with at most a chunk of
 * each run's lines, the shortest first): a long backlog written back to back would take all the space a full
 * disk gets back, and a new run's log would wait behind it.
 */
const catchUpMillis = 500

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

/** A run's lines waiting to be written; `text` grows until it is taken. */
interface Gathered {
  readonly key: LogKey
  text: string
}

/** Lines dropped from a run's log while past the bound, and not yet marked in it. */
interface Dropped {
  readonly key: LogKey
  lines: number
  chars: number
}

const idOf = (key: LogKey) => `${key.logDateTime}:${key.logId}`

const newlines = (text: string) => {
  let count = 0
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) count++
  return count
}

/** The bounds of what waits to be written (see `Held`). */
export interface Limits {
  /** The most characters held for all runs together; past it, new lines are dropped and counted. */
  readonly maxHeldChars: number
  /** The most characters of one run's lines a write takes, so that no run's backlog goes ahead of the others. */
  readonly chunkChars: number
}

/** What production holds at most: 64 Mi characters (a full disk holds back lines, but not without end). */
export const defaultLimits: Limits = { maxHeldChars: 64 * 1024 * 1024, chunkChars: 1024 * 1024 }

/**
 * What waits to be written, per run and in order, within one bound for all runs together: a store that
 * cannot write (a full disk) makes lines wait, but their memory is bounded. Past the bound, new lines are
 * dropped and counted per run; the run's log gets a marker, where they went missing, saying how many.
 */
class Held {
  private runs = new Map<string, Gathered>()
  private chars = 0
  /** Whether the last `take` left part of a run's lines behind (a backlog written a chunk at a time). */
  leftBehind = false
  private readonly dropped = new Map<string, Dropped>()

  constructor(private readonly limits: Limits) {}

  get size(): number {
    return this.runs.size
  }

  /** Holds `text` for the run's log; false when it was dropped (past the bound). */
  add(id: string, key: LogKey, text: string): boolean {
    if (this.chars + text.length > this.limits.maxHeldChars) {
      const d = this.dropped.get(id)
      const lines = newlines(text)
      if (d === undefined) this.dropped.set(id, { key, lines, chars: text.length })
      else {
        d.lines += lines
        d.chars += text.length
      }
      Metrics.unsafeRecordDroppedLogLines(lines)
      return false
    }
    // Room again: the run's log says, where they went missing, how many lines it lost.
    const d = this.dropped.get(id)
    if (d !== undefined) {
      this.dropped.delete(id)
      text = dropMarker(d, this.limits.maxHeldChars) + text
    }
    this.hold(id, key, text)
    return true
  }

  /** Holds `text`, past the bound or not (a drop marker is the record of a loss: it is never dropped). */
  private hold(id: string, key: LogKey, text: string): void {
    const waiting = this.runs.get(id)
    if (waiting === undefined) this.runs.set(id, { key, text })
    else waiting.text += text
    this.chars += text.length
  }

  /**
   * Takes what a write carries: up to `chunkChars` of each run's lines (whole lines), the shortest first (a
   * file store writes them in that order, so a long backlog cannot take the space that returns ahead of the
   * others); the rest stays, ahead of what comes next. A run whose lines were dropped and who holds nothing
   * gets its marker now.
   */
  take(): Array<Lines> {
    for (const [id, d] of [...this.dropped]) {
      if (this.runs.has(id)) continue
      this.dropped.delete(id)
      this.hold(id, d.key, dropMarker(d, this.limits.maxHeldChars))
    }
    const batch: Array<Lines> = []
    const rest = new Map<string, Gathered>()
    for (const [id, { key, text }] of this.runs) {
      const cut = text.length <= this.limits.chunkChars ? text.length : cutAt(text, this.limits.chunkChars)
      batch.push({ key, text: cut === text.length ? text : text.slice(0, cut) })
      if (cut < text.length) rest.set(id, { key, text: text.slice(cut) })
    }
    this.runs = rest
    this.leftBehind = rest.size > 0
    this.chars = 0
    for (const { text } of rest.values()) this.chars += text.length
    return batch.sort((a, b) => a.text.length - b.text.length)
  }

  /** All that is held for one run (for a read of its log), its drop marker included; undefined when nothing. */
  takeRun(id: string): Lines | undefined {
    const d = this.dropped.get(id)
    if (d !== undefined) {
      this.dropped.delete(id)
      this.hold(id, d.key, dropMarker(d, this.limits.maxHeldChars))
    }
    const run = this.runs.get(id)
    if (run === undefined) return undefined
    this.runs.delete(id)
    this.chars -= run.text.length
    return { key: run.key, text: run.text }
  }

  /** Lines a write could not store go back, ahead of what came since (over the bound if need be). */
  putBack(lines: ReadonlyArray<Lines>): void {
    const since = this.runs
    this.runs = new Map()
    for (const { key, text } of lines) {
      const id = idOf(key)
      const waiting = this.runs.get(id)
      if (waiting === undefined) this.runs.set(id, { key, text })
      else waiting.text += text
      this.chars += text.length
    }
    for (const [id, gathered] of since) {
      const waiting = this.runs.get(id)
      if (waiting === undefined) this.runs.set(id, gathered)
      else waiting.text += gathered.text
    }
  }

  /** Whether lines are being dropped (for saying so once). */
  get dropping(): boolean {
    return this.dropped.size > 0
  }
}

/** Where to cut a run's text to take about `chars` of it: after a whole line (at least one). */
const cutAt = (text: string, chars: number): number => {
  const before = text.lastIndexOf("\n", chars - 1)
  return before !== -1 ? before + 1 : text.indexOf("\n", chars) + 1 || text.length
}

const dropMarker = (d: Dropped, maxHeldChars: number) => `${Messages.logLinesDropped(d.lines, d.chars, maxHeldChars)}\n`

const makeWith = (limits: Limits) =>
  Effect.gen(function*() {
    const store = yield* JobLog
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const turn = yield* Effect.makeSemaphore(1)
    const held = new Held(limits)
    // Shown in /metrics from the start, at 0.
    Metrics.unsafeRecordDroppedLogLines(0)
    let timer: ReturnType<typeof setTimeout> | undefined
    let failing = false
    /** Since a write failed, until all that was held has been written: backlogs are paced (`catchUpMillis`). */
    let catchingUp = false
    let saidDropping = false
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

    const writeSoon = (millis: number) => {
      if (timer === undefined) timer = setTimeout(writeLater, millis)
    }

    const add = (id: string, key: LogKey, text: string) => {
      if (!held.add(id, key, text) && !saidDropping) {
        saidDropping = true
        runFork(Effect.logError(
          `run logs: the store has not taken lines for a while and ${limits.maxHeldChars} characters are held; ` +
            "new lines are dropped, counted (xxl_job_log_lines_dropped_total) and marked in their run's log"
        ))
      }
      writeSoon(gatherMillis)
    }

    /**
     * A write the store took: say so if it had failed, and go on with a backlog it left behind (paced after a
     * failure). Lines that came meanwhile have their own gather timer: writing them at once instead made
     * smaller batches under load, and more of them (CPU per trigger x1.11, measured).
     */
    const written = Effect.suspend(() => {
      if (held.leftBehind) {
        clearTimeout(timer)
        timer = undefined
        writeSoon(catchingUp ? catchUpMillis : 0)
      } else if (held.size === 0) {
        catchingUp = false
      }
      if (!held.dropping) saidDropping = false
      if (!failing) return Effect.void
      failing = false
      return Effect.logInfo("run logs: the store takes lines again")
    })

    /** A write the store failed: its unwritten lines wait, and are tried again a second later. */
    const notWritten = (batch: ReadonlyArray<Lines>, cause: Cause.Cause<JobLogError>) =>
      Effect.suspend(() => {
        const failure = Cause.failureOption(cause)
        held.putBack(Option.isSome(failure) && failure.value.unwritten !== undefined ? failure.value.unwritten : batch)
        catchingUp = true
        clearTimeout(timer)
        timer = undefined
        writeSoon(retryMillis)
        if (failing) return Effect.void
        failing = true
        return Effect.logWarning("run logs: the store failed a write; its lines are kept and tried again", cause)
      })

    /** Writes `batch`, after the write under way; what the store does not take is held again. */
    const write = (batch: () => ReadonlyArray<Lines>): Effect.Effect<void> =>
      turn.withPermits(1)(Effect.suspend(() => {
        const lines = batch()
        if (lines.length === 0) return Effect.void
        return store.write(lines).pipe(
          Effect.matchCauseEffect({ onSuccess: () => written, onFailure: (cause) => notWritten(lines, cause) })
        )
      }))

    /** Writes what is held: a chunk of each run's lines. */
    const writeNow = write(() => held.take())

    /** Writes all that is held for one run, for a read of its log: other runs' backlogs keep their pace. */
    const writeRun = (key: LogKey) =>
      write(() => {
        const lines = held.takeRun(idOf(key))
        return lines === undefined ? [] : [lines]
      })

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
        Effect.zipRight(Fiber.join(runFork(writeRun(key))), store.read(key, fromLineNum)).pipe(
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
export const layer: Layer.Layer<RunLogs, never, JobLog> = Layer.scoped(RunLogs, makeWith(defaultLimits))

/** The run logs with other bounds on what they hold (tests). @internal */
export const layerWith = (limits: Limits): Layer.Layer<RunLogs, never, JobLog> =>
  Layer.scoped(RunLogs, makeWith(limits))

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
