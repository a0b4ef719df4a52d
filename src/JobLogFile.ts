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
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { ExecutorConfig } from "./ExecutorConfig.js"
import { dayOf, JobLog, type LogKey, notFound, page, splitLines, type Store, type Writer } from "./JobLog.js"

const pathOf = (root: string, key: LogKey, dayShift = 0) =>
  Path.join(root, dayOf(key.logDateTime + dayShift * 86_400_000), `${key.logId}.log`)

const isMissing = (error: unknown) =>
  typeof error === "object" && error !== null && (error as { code?: unknown }).code === "ENOENT"

/**
 * Appends entries to one file in order. Appends are buffered and written together on the next turn of the
 * event loop; a failed write keeps its entries and is tried again with the next.
 */
const makeFileWriter = (
  path: string,
  ensureFolder: (path: string) => Promise<void>,
  onError: (error: unknown) => void
) => {
  let buffer: Array<string> = []
  let chain: Promise<void> = Promise.resolve()
  let scheduled = false

  const writeOut = async () => {
    scheduled = false
    if (buffer.length === 0) return
    const entries = buffer
    buffer = []
    try {
      await ensureFolder(path)
      await Fs.appendFile(path, entries.join("\n") + "\n", "utf8")
    } catch (error) {
      buffer = entries.concat(buffer)
      onError(error)
    }
  }
  const schedule = () => {
    if (scheduled) return
    scheduled = true
    setImmediate(() => {
      chain = chain.then(writeOut)
    })
  }
  const writer: Writer = {
    append: (entry) => {
      buffer.push(entry)
      schedule()
    },
    flush: Effect.promise(() => {
      chain = chain.then(writeOut)
      return chain
    })
  }
  return writer
}

/**
 * A file store rooted at `logPath`.
 *
 * @since 1.0.0
 * @category constructors
 */
export const make = (logPath: string): Effect.Effect<Store> =>
  Effect.gen(function*() {
    const root = Path.resolve(logPath)
    // Day folders already made: appends to them skip the mkdir.
    const folders = new Set<string>()
    const ensureFolder = async (path: string) => {
      const folder = Path.dirname(path)
      if (folders.has(folder)) return
      await Fs.mkdir(folder, { recursive: true })
      folders.add(folder)
    }
    const runtime = yield* Effect.runtime<never>()
    const reportError = (error: unknown) => {
      Runtime.runFork(runtime)(Effect.logWarning("run log write failed; retrying with the next write", error))
    }
    return {
      writer: (key) =>
        Effect.acquireRelease(
          Effect.sync(() => makeFileWriter(pathOf(root, key), ensureFolder, reportError)),
          (writer) => writer.flush
        ),
      append: (key, entry) =>
        Effect.promise(async () => {
          const path = pathOf(root, key)
          await ensureFolder(path)
          await Fs.appendFile(path, entry + "\n", "utf8")
        }).pipe(Effect.catchAllDefect((error) => Effect.logWarning("run log append failed", error))),
      read: (key, fromLineNum) =>
        Effect.promise(async () => {
          // The admin passes the trigger time re-read from its database at second precision; a run
          // triggered in the last instant of a day may have been rounded into the next one.
          for (const shift of [0, -1]) {
            try {
              return page(splitLines(await Fs.readFile(pathOf(root, key, shift), "utf8")), fromLineNum)
            } catch (error) {
              if (!isMissing(error)) throw error
            }
          }
          return notFound(fromLineNum)
        })
    } satisfies Store
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
    const sweep = Effect.clockWith((clock) => clock.currentTimeMillis).pipe(
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
    return yield* make(settings.logPath)
  })
)
