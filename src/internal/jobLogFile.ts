/**
 * The file log store, Java's layout: `{logPath}/{yyyy-MM-dd}/{logId}.log`, UTF-8, one entry per line (an
 * entry with newlines takes several), and a daily retention sweep that deletes day folders older than
 * `logRetentionDays` (off below 3, as in Java).
 *
 * @since 1.0.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { ExecutorConfig } from "../ExecutorConfig.js"
import { dayOf, JobLog, type LogKey, notFound, pageMaxBytes, type Store, type Writer } from "../JobLog.js"
import { LogResult } from "../Wire.js"
import * as AppendThread from "./appendThread.js"
import * as LineIndex from "./lineIndex.js"

// Plain concatenation: `root` is absolute and normalised, the rest is built from numbers (Path.join showed
// in the profile).
const pathOf = (root: string, key: LogKey, dayShift = 0) =>
  `${root}${Path.sep}${dayOf(key.logDateTime + dayShift * 86_400_000)}${Path.sep}${key.logId}.log`

const isMissing = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { code?: unknown }).code === "ENOENT"

/**
 * A file store rooted at `logPath`. Appends go to a writer thread of their own (see `internal/appendThread`);
 * `/log` pages come from a line index (see `internal/lineIndex`), so a page costs the same anywhere in a
 * large log. `pageMaxBytes` bounds a page.
 *
 * @since 1.0.0
 * @category constructors
 */
export const make = (
  logPath: string,
  options: { readonly pageMaxBytes?: number } = {}
): Effect.Effect<Store & { readonly closeFiles: Effect.Effect<void> }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const root = Path.resolve(logPath)
    const maxBytes = options.pageMaxBytes ?? pageMaxBytes
    const runtime = yield* Effect.runtime<never>()
    const reportFailures = (failures: ReadonlyArray<AppendThread.Failure>) => {
      const [path, , message] = failures[0]
      Runtime.runFork(runtime)(Effect.logWarning(
        `run log write failed for ${failures.length} file(s), e.g. ${path}: ${message}; retrying with the next write`
      ))
    }
    const appender = yield* Effect.acquireRelease(
      Effect.sync(() => AppendThread.make(reportFailures)),
      (appender) => Effect.promise(appender.close)
    )
    const indexes = LineIndex.makeIndexes()
    const flush = Effect.promise(appender.flush)
    return {
      writer: (key): Writer => {
        const path = pathOf(root, key)
        return { append: (entry) => appender.append(path, entry + "\n"), flush }
      },
      append: (key, entry) => appender.append(pathOf(root, key), entry + "\n"),
      read: (key, fromLineNum) =>
        Effect.promise(async () => {
          // What was appended before this read is in the file.
          await appender.flush()
          // The admin passes the trigger time re-read from its database at second precision; a run
          // triggered in the last instant of a day may have been rounded into the next one.
          for (const shift of [0, -1]) {
            const found = await indexes.read(pathOf(root, key, shift), fromLineNum, maxBytes)
            if (found === undefined) continue
            return new LogResult({
              fromLineNum,
              toLineNum: found.text === "" ? found.lines : found.to,
              logContent: found.text,
              isEnd: false
            })
          }
          return notFound(fromLineNum)
        }),
      closeFiles: Effect.promise(appender.closeFiles)
    }
  })

const dayFolder = /^\d{4}-\d{2}-\d{2}$/

/**
 * Deletes the day folders under `logPath` older than `retentionDays` days before `now` (3.3+ rule: a folder
 * goes when today is past its day plus the retention). Below 3 days nothing is deleted.
 *
 * @since 1.0.0
 * @category retention
 */
export const cleanup = (logPath: string, retentionDays: number, now: Date): Effect.Effect<ReadonlyArray<string>> =>
  Effect.promise(async () => {
    if (retentionDays < 3) return []
    const today = Date.parse(dayOf(now.getTime()))
    let names: Array<string>
    try {
      names = await Fs.readdir(logPath)
    } catch (error) {
      if (isMissing(error)) return []
      throw error
    }
    const removed: Array<string> = []
    for (const name of names) {
      if (!dayFolder.test(name)) continue
      const day = Date.parse(name)
      if (Number.isNaN(day) || today <= day + retentionDays * 86_400_000) continue
      await Fs.rm(Path.join(logPath, name), { recursive: true, force: true })
      removed.push(name)
    }
    return removed
  })

/**
 * The file store from the executor's settings, with its daily retention sweep running in the background.
 *
 * @since 1.0.0
 * @category layers
 */
export const layer: Layer.Layer<JobLog, never, ExecutorConfig> = Layer.scoped(
  JobLog,
  Effect.gen(function*() {
    const settings = yield* ExecutorConfig
    const store = yield* make(settings.logPath)
    // Open files are closed first, so that no later append goes to a file the sweep deleted.
    const sweep = Effect.zipRight(store.closeFiles, Effect.clockWith((clock) => clock.currentTimeMillis)).pipe(
      Effect.flatMap((now) => cleanup(settings.logPath, settings.logRetentionDays, new Date(now))),
      Effect.tap((removed) =>
        removed.length > 0 ? Effect.logInfo(`run logs: retention removed ${removed.join(", ")}`) : Effect.void
      ),
      Effect.catchAllCause((cause) => Effect.logWarning("run logs: retention sweep failed", cause))
    )
    if (settings.logRetentionDays >= 3) {
      yield* sweep.pipe(
        Effect.repeat(Schedule.spaced(Duration.days(1))),
        Effect.interruptible,
        Effect.forkScoped
      )
    }
    return store
  })
)
