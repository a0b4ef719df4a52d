/**
 * Run logs: the store every run writes its log to and `/log` reads pages from. The store is a service with
 * a file implementation (`JobLogFile.layer`, the default, Java's layout) and an in-memory one
 * (`JobLog.layerMemory`, for tests). The paging rules the admin relies on live here, shared by both.
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Messages from "./internal/messages.js"
import { LogResult } from "./Wire.js"

/**
 * Identifies one run's log: Java files it under the trigger's day, `{yyyy-MM-dd}/{logId}.log`.
 *
 * @since 1.0.0
 * @category models
 */
export interface LogKey {
  readonly logId: number
  readonly logDateTime: number
}

/**
 * Writes one run's log. `append` is synchronous so that Effect's (synchronous) loggers can call it; the
 * store writes behind it in order, and `flush` waits until everything appended so far is stored.
 *
 * @since 1.0.0
 * @category models
 */
export interface Writer {
  /** Appends one entry; an entry with newlines occupies several lines, as in Java. */
  readonly append: (entry: string) => void
  readonly flush: Effect.Effect<void>
}

/**
 * @since 1.0.0
 * @category models
 */
export interface Store {
  /** A writer for a run's log. Appends are written behind, in order; a later `read` sees them. */
  readonly writer: (key: LogKey) => Writer
  /**
   * Appends one entry to a run's log outside the run (the callback markers), as a plain call like a writer's
   * `append`: written behind, in order; a later `read` sees it.
   */
  readonly append: (key: LogKey, entry: string) => void
  /** A page of a run's log from line `fromLineNum` (1-based) on, as `/log` answers it. */
  readonly read: (key: LogKey, fromLineNum: number) => Effect.Effect<LogResult>
}

/**
 * @since 1.0.0
 * @category tags
 */
export class JobLog extends Context.Tag("effect-xxl-job/JobLog")<JobLog, Store>() {}

// ---------------------------------------------------------------------------------------------------------
// Shared rules
// ---------------------------------------------------------------------------------------------------------

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

/**
 * The day folder of a run: `yyyy-MM-dd` of the trigger time in the executor's local time zone.
 *
 * @since 1.0.0
 * @category rules
 */
export const dayOf = (epochMillis: number): string => {
  // Nearly every call is for the day of the call before (each run's log is named by it): remember it.
  if (epochMillis >= lastDay.start && epochMillis < lastDay.end) return lastDay.text
  const date = new Date(epochMillis)
  const [year, month, day] = [date.getFullYear(), date.getMonth(), date.getDate()]
  lastDay = {
    start: new Date(year, month, day).getTime(),
    end: new Date(year, month, day + 1).getTime(),
    text: `${year}-${pad(month + 1)}-${pad(day)}`
  }
  return lastDay.text
}
let lastDay = { start: 0, end: 0, text: "" }

/**
 * `yyyy-MM-dd HH:mm:ss` in local time, the timestamp of every log line.
 *
 * @since 1.0.0
 * @category rules
 */
export const timestamp = (date: Date): string => {
  // Log lines come many to a second: the text of the last second is kept.
  const second = Math.floor(date.getTime() / 1000)
  if (second !== lastSecond.second) {
    lastSecond = {
      second,
      text: `${dayOf(date.getTime())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
    }
  }
  return lastSecond.text
}
let lastSecond = { second: Number.NaN, text: "" }

/**
 * One log entry in Java's shape, `yyyy-MM-dd HH:mm:ss [source]-[level]-[thread] message`, where we put the
 * handler in `source`, the log level where Java has a line number and the fiber where it has a thread.
 *
 * @since 1.0.0
 * @category rules
 */
export const formatEntry = (options: {
  readonly date: Date
  readonly source: string
  readonly level: string
  readonly thread: string
  readonly message: string
}): string => `${timestamp(options.date)} [${options.source}]-[${options.level}]-[${options.thread}] ${options.message}`

/**
 * The reply for a run whose log does not exist.
 *
 * @since 1.0.0
 * @category rules
 */
export const notFound = (fromLineNum: number): LogResult =>
  new LogResult({ fromLineNum, toLineNum: 0, logContent: Messages.logFileNotExists, isEnd: true })

/**
 * About how much text one `/log` reply carries. Java sends the whole rest of the log, which for a large log
 * is more than a browser can show; the admin asks again from `toLineNum + 1`, so a bounded page loses nothing.
 *
 * @since 1.0.0
 * @category rules
 */
export const pageMaxBytes = 1024 * 1024

/**
 * A page of a log held as lines: lines `fromLineNum..` (1-based; 0 or less means from the start), each
 * newline-terminated, up to about `maxBytes` (at least one line). `toLineNum` is the number of the last line
 * returned, or the line count when there is nothing new (Java ≤3.2), so the admin sees
 * `fromLineNum > toLineNum` and waits for more. `isEnd` is always false: the admin decides the end from the
 * run's result, and a running job's log keeps growing.
 *
 * @since 1.0.0
 * @category rules
 */
export const page = (lines: ReadonlyArray<string>, fromLineNum: number, maxBytes = pageMaxBytes): LogResult => {
  const first = Math.max(1, fromLineNum)
  let last = first - 1
  let bytes = 0
  while (last < lines.length && (bytes < maxBytes || last < first)) {
    bytes += Buffer.byteLength(lines[last], "utf8") + 1
    last++
  }
  const selected = lines.slice(first - 1, last)
  return new LogResult({
    fromLineNum,
    toLineNum: selected.length === 0 ? lines.length : last,
    logContent: selected.length === 0 ? "" : selected.join("\n") + "\n",
    isEnd: false
  })
}

/**
 * Splits stored text into lines; the text ends with a newline, which does not start a line.
 *
 * @since 1.0.0
 * @category rules
 */
export const splitLines = (text: string): Array<string> => {
  if (text === "") return []
  const lines = text.split("\n")
  if (lines[lines.length - 1] === "") lines.pop()
  return lines
}

/**
 * A writer that keeps a run's log within `maxBytes` (UTF-8) by keeping its head and its tail: the first half
 * of the budget is written as it comes; past it, entries wait in a window holding the latest half's worth,
 * and `close` (at the run's end) writes a marker saying how much was left out, then that window. So the
 * log's start and its end (usually the interesting parts) survive, and nothing goes silently.
 *
 * Entries that come after `close` (a fiber the job left running) are written while the budget allows; past it
 * one marker says they were not. `onWritten` hears the size of every entry written (for the metrics).
 *
 * @since 1.0.0
 * @category rules
 */
export const capped = (
  writer: Writer,
  maxBytes: number,
  onWritten: (bytes: number) => void = () => undefined
): Writer & { readonly close: () => void } => {
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

  const append = (entry: string) => {
    const bytes = Buffer.byteLength(entry, "utf8") + 1
    if (closed) {
      if (written + bytes <= maxBytes) {
        written += bytes
        onWritten(bytes)
        writer.append(entry)
      } else if (!droppedAfterClose) {
        droppedAfterClose = true
        writer.append(
          `<br>----------- log truncated: lines logged after the run ended, past this run's limit of ${maxBytes} bytes, were not written -----------`
        )
      }
      return
    }
    if (tail === undefined && written + bytes <= headBudget) {
      written += bytes
      onWritten(bytes)
      writer.append(entry)
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
      writer.append(
        `<br>----------- log truncated: ${droppedEntries} entr${
          droppedEntries === 1 ? "y" : "ies"
        } (${droppedBytes} bytes) left out here, to keep this run's log within ${maxBytes} bytes; its last ${tailBytes} bytes follow -----------`
      )
    }
    if (tail !== undefined) { for (let i = tailFrom; i < tail.length; i++) writer.append(tail[i].entry) }
    written += tailBytes
    tail = undefined
    tailFrom = 0
    tailBytes = 0
  }

  return { append, flush: writer.flush, close }
}

// ---------------------------------------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------------------------------------

const memoryKey = (key: LogKey) => `${dayOf(key.logDateTime)}/${key.logId}`

/**
 * A store that keeps logs in memory: for tests, and for users' tests with the mock admin.
 *
 * @since 1.0.0
 * @category constructors
 */
export const makeMemory = (): Store => {
  const logs = new Map<string, Array<string>>()
  const linesOf = (key: LogKey) => {
    const k = memoryKey(key)
    let lines = logs.get(k)
    if (lines === undefined) {
      lines = []
      logs.set(k, lines)
    }
    return lines
  }
  const appendSync = (key: LogKey, entry: string) => {
    linesOf(key).push(...entry.split("\n"))
  }
  return {
    writer: (key) => {
      linesOf(key)
      return { append: (entry) => appendSync(key, entry), flush: Effect.void }
    },
    append: appendSync,
    read: (key, fromLineNum) =>
      Effect.sync(() => {
        const lines = logs.get(memoryKey(key))
        return lines === undefined ? notFound(fromLineNum) : page(lines, fromLineNum)
      })
  }
}

/**
 * @since 1.0.0
 * @category layers
 */
export const layerMemory: Layer.Layer<JobLog> = Layer.sync(JobLog, makeMemory)
