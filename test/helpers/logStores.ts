/** For tests of the run log stores. */
import type { JobLog } from "../../src/index.js"

/** Writes entries (one or more lines each) to a run's log, as the executor hands them to a store. */
export const write = (store: JobLog.Store, key: JobLog.LogKey, ...entries: ReadonlyArray<string>) =>
  store.write([{ key, text: entries.map((entry) => `${entry}\n`).join("") }])
