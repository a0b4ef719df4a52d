/**
 * The stdout mirror of run logs (`runLogStdout`): every line of a run's log, the executor's markers and the
 * job's own lines, is also printed to stdout as one structured line in the executor's `logFormat`, with the
 * time, the level, the job id, the log id and the handler, so that `kubectl logs` (or whatever collects the
 * container's output) shows job activity. The run log itself is unchanged.
 *
 * The shapes follow Effect's own loggers of each format, so one parser reads the executor's lines and these:
 *
 * - `json`: `{"message":"…","logLevel":"INFO","timestamp":"…","annotations":{"jobId":1,"logId":2,"handler":"h"}}`
 * - `logfmt`: `timestamp=… level=INFO message="…" jobId=1 logId=2 handler=h`
 * - `text`: `2025-01-31T08:00:00.000Z INFO [h jobId=1 logId=2] …`
 *
 * Lines gather for a turn of the event loop and go out in one write: stdout to a pipe is synchronous on
 * Linux, and a write per line would cost the runs a system call each.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Settings } from "../ExecutorConfig.js"

/** Prints one line of a run's log. */
export type Mirror = (date: Date, level: string, message: string) => void

/** @internal */
export interface Service {
  /** The mirror of one run's lines. */
  readonly forRun: (jobId: number, logId: number, handler: string) => Mirror
}

/**
 * A message as one readable line's text: Java's markers (`<br>----------- xxl-job job execute start
 * -----------<br>----------- Param:x`) lose their HTML breaks and dashes (`xxl-job job execute start | Param:x`).
 * The line break in a stack trace stays in the text; each format escapes it.
 */
export const plainMessage = (message: string): string => {
  if (!message.includes("<br>")) return message
  return message.split("<br>").map((part) => part.replace(/^-{3,}\s*|\s*-{3,}$/g, "").trim()).filter((part) =>
    part !== ""
  ).join(" | ")
}

/** A logfmt value, quoted when it has to be (as Effect's logfmt logger does). */
const logfmtValue = (value: string) => /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)

/** Line breaks as `\n`, so that a stack trace stays on its line. */
const oneLine = (text: string) => text.replace(/\r?\n|\r/g, "\\n")

/** The line maker of one run, for `format`. */
const lineFor = (format: Settings["logFormat"], jobId: number, logId: number, handler: string) => {
  switch (format) {
    case "json": {
      const annotations = { jobId, logId, handler }
      return (date: Date, level: string, message: string) =>
        JSON.stringify({ message, logLevel: level, timestamp: date.toISOString(), annotations })
    }
    case "logfmt": {
      const fields = ` jobId=${jobId} logId=${logId} handler=${logfmtValue(handler)}`
      return (date: Date, level: string, message: string) =>
        `timestamp=${date.toISOString()} level=${level} message=${logfmtValue(message)}${fields}`
    }
    default: {
      const run = `[${handler} jobId=${jobId} logId=${logId}]`
      return (date: Date, level: string, message: string) => `${date.toISOString()} ${level} ${run} ${oneLine(message)}`
    }
  }
}

/**
 * The mirror, writing to stdout (or to `write`, for tests). What has gathered is written when the scope
 * closes, after the runs have ended.
 */
export const make = (
  format: Settings["logFormat"],
  write: (text: string) => void = (text) => process.stdout.write(text)
): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    let pending = ""
    let scheduled = false
    const flush = () => {
      scheduled = false
      if (pending === "") return
      const text = pending
      pending = ""
      write(text)
    }
    yield* Effect.addFinalizer(() => Effect.sync(flush))
    return {
      forRun: (jobId, logId, handler) => {
        const line = lineFor(format, jobId, logId, handler)
        return (date, level, message) => {
          pending += line(date, level, plainMessage(message)) + "\n"
          if (!scheduled) {
            scheduled = true
            setImmediate(flush)
          }
        }
      }
    }
  })
