/** For tests of the run log stores. */
import { Effect, Layer } from "effect"
import { JobLog } from "../../src/index.js"
import * as RunLogs from "../../src/internal/runLogs.js"

/** Writes entries (one or more lines each) to a run's log, as the executor hands them to a store. */
export const write = (store: JobLog.Store, key: JobLog.LogKey, ...entries: ReadonlyArray<string>) =>
  store.write([{ key, text: entries.map((entry) => `${entry}\n`).join("") }])

/** The engine's run logs (`RunLogs`) in front of `store`, with `limits` on what they hold back. */
export const runLogsOver = (store: JobLog.Store, limits: RunLogs.Limits = RunLogs.defaultLimits) =>
  Effect.provide(
    RunLogs.RunLogs,
    RunLogs.layerWith(limits).pipe(Layer.provide(Layer.succeed(JobLog.JobLog, store)))
  )
