/**
 * Run logs: where every run's log goes and where `/log` reads its pages from. Three stores come with the
 * package: files in Java's layout (the default), Redis (shared by all of an app's executors), and memory
 * (tests). The store is a layer: provide another one to `Executor.layerWith` to keep logs elsewhere.
 *
 * The executor gathers the lines its runs log for a few milliseconds and hands them to the store in one
 * `write`, one at a time and in order; a store never sees a line per call.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { AdminClient, Executor, ExecutorConfig, Job, JobLog } from "effect-xxl-job"
 *
 * declare const jobs: Job.Registry
 *
 * // Run logs in Redis (XXL_JOB_EXECUTOR_REDIS_URL), whatever XXL_JOB_EXECUTOR_LOGSTORE says.
 * const executor = Executor.layerWith(jobs).pipe(
 *   Layer.provide(Layer.merge(JobLog.layerRedis, AdminClient.layer)),
 *   Layer.provide(ExecutorConfig.layerFromEnv({ appName: "my-app" }))
 * )
 * ```
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { ExecutorConfig } from "./ExecutorConfig.js"
import * as FileStore from "./internal/jobLogFile.js"
import * as MemoryStore from "./internal/jobLogMemory.js"
import * as RedisStore from "./internal/jobLogRedis.js"
import type { LogResult } from "./Wire.js"

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
 * Lines for one run's log: `text` holds one or more whole lines, each ending with a newline, in the order
 * they were logged.
 *
 * @since 1.0.0
 * @category models
 */
export interface Lines {
  readonly key: LogKey
  readonly text: string
}

/**
 * The store could not write or read now. On a failed `write` the executor keeps the lines and tries again:
 * the lines `unwritten` names when the store wrote part of the batch (say, until a disk filled), else the
 * whole batch.
 *
 * @since 1.0.0
 * @category errors
 */
export { JobLogError } from "./internal/jobLogError.js"
import type { JobLogError } from "./internal/jobLogError.js"

/**
 * A run log store.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { JobLog, Wire } from "effect-xxl-job"
 *
 * // A store that prints every line and keeps none (so `/log` finds nothing).
 * const printing: JobLog.Store = {
 *   write: (batch) =>
 *     Effect.sync(() => batch.forEach(({ key, text }) => process.stdout.write(`#${key.logId} ${text}`))),
 *   read: (_key, fromLineNum) =>
 *     Effect.succeed(new Wire.LogResult({ fromLineNum, toLineNum: 0, logContent: "", isEnd: true }))
 * }
 * ```
 *
 * @since 1.0.0
 * @category models
 */
export interface Store {
  /**
   * Appends lines to run logs. The executor calls it with what its runs logged over a few milliseconds, one
   * call at a time; a later `read` must see what an earlier `write` wrote. Fail with `JobLogError` when lines
   * cannot be stored now (naming them in `unwritten` when some of the batch was written): the executor keeps
   * them, within a bound, and calls again.
   */
  readonly write: (batch: ReadonlyArray<Lines>) => Effect.Effect<void, JobLogError>
  /**
   * A page of a run's log from line `fromLineNum` (1-based) on, as `/log` answers it: up to about a megabyte
   * of whole lines; `toLineNum` the last line given (or the line count when there is nothing new), `isEnd`
   * false; for a log that does not exist, `logContent` "readLog fail, logFile not exists", `toLineNum` 0 and
   * `isEnd` true.
   */
  readonly read: (key: LogKey, fromLineNum: number) => Effect.Effect<LogResult, JobLogError>
}

/**
 * @since 1.0.0
 * @category tags
 */
export class JobLog extends Context.Tag("effect-xxl-job/JobLog")<JobLog, Store>() {}

/**
 * Files in Java's layout, `{logPath}/{yyyy-MM-dd}/{logId}.log`, written by a thread of their own, with a
 * daily sweep that deletes day folders older than `logRetentionDays` (off below 3, as in Java).
 *
 * @since 1.0.0
 * @category layers
 */
export const layerFile: Layer.Layer<JobLog, never, ExecutorConfig> = Layer.scoped(
  JobLog,
  Effect.gen(function*() {
    const settings = yield* ExecutorConfig
    const store = yield* FileStore.make(settings.logPath)
    // Open files are closed first, so that no later append goes to a file the sweep deleted.
    const sweep = Effect.zipRight(store.closeFiles, Effect.clockWith((clock) => clock.currentTimeMillis)).pipe(
      Effect.flatMap((now) => FileStore.cleanup(settings.logPath, settings.logRetentionDays, new Date(now))),
      Effect.tap((removed) =>
        removed.length > 0 ? Effect.logInfo(`run logs: retention removed ${removed.join(", ")}`) : Effect.void
      ),
      Effect.catchAllCause((cause) => Effect.logWarning("run logs: retention sweep failed", cause))
    )
    if (settings.logRetentionDays >= 3) {
      yield* sweep.pipe(Effect.repeat(Schedule.spaced(Duration.days(1))), Effect.interruptible, Effect.forkScoped)
    }
    return store
  })
)

/**
 * Redis (`XXL_JOB_EXECUTOR_REDIS_URL`): each run's log is a list under `xxl-job:{appName}:log:{logId}`, so
 * every executor of the app answers `/log` for runs any of them executed; kept `logRetentionDays` days after
 * its last line (until deleted when that is 0 or less). While Redis is away the lines wait in memory.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerRedis: Layer.Layer<JobLog, never, ExecutorConfig> = Layer.scoped(
  JobLog,
  Effect.flatMap(ExecutorConfig, (settings) =>
    RedisStore.make({
      url: settings.redisUrl,
      keyPrefix: `xxl-job:${settings.appName === "" ? "default" : settings.appName}:log:`,
      retention: settings.logRetentionDays > 0 ? Duration.days(settings.logRetentionDays) : undefined
    }))
)

/**
 * Logs in memory, gone with the layer: for tests.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerMemory: Layer.Layer<JobLog> = Layer.sync(JobLog, MemoryStore.make)
