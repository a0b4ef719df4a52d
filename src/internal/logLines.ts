/**
 * Run log lines and pages as Java writes them and the admin reads them: the day folder of a run, the shape of
 * an entry, and the paging rules of `/log`. Every store (file, Redis, memory) answers by the same rules.
 *
 * @internal
 */
import { LogResult } from "../Wire.js"
import * as Messages from "./messages.js"

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

/** The day folder of a run: `yyyy-MM-dd` of the trigger time in the executor's local time zone. */
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

/** `yyyy-MM-dd HH:mm:ss` in local time, the timestamp of every log line. */
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
 */
export const formatEntry = (options: {
  readonly date: Date
  readonly source: string
  readonly level: string
  readonly thread: string
  readonly message: string
}): string => `${timestamp(options.date)} [${options.source}]-[${options.level}]-[${options.thread}] ${options.message}`

/** The reply for a run whose log does not exist. */
export const notFound = (fromLineNum: number): LogResult =>
  new LogResult({ fromLineNum, toLineNum: 0, logContent: Messages.logFileNotExists, isEnd: true })

/**
 * About how much text one `/log` reply carries. Java sends the whole rest of the log, which for a large log
 * is more than a browser can show; the admin asks again from `toLineNum + 1`, so a bounded page loses nothing.
 */
export const pageMaxBytes = 1024 * 1024

/**
 * A page of a log held as lines: lines `fromLineNum..` (1-based; 0 or less means from the start), each
 * newline-terminated, up to about `maxBytes` (at least one line). `toLineNum` is the number of the last line
 * returned, or the line count when there is nothing new (Java ≤3.2), so the admin sees
 * `fromLineNum > toLineNum` and waits for more. `isEnd` is always false: the admin decides the end from the
 * run's result, and a running job's log keeps growing.
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

/** Splits stored text into lines; the text ends with a newline, which does not start a line. */
export const splitLines = (text: string): Array<string> => {
  if (text === "") return []
  const lines = text.split("\n")
  if (lines[lines.length - 1] === "") lines.pop()
  return lines
}
