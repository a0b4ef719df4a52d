/**
 * The engine for a registry of jobs, wired: the endpoints over the lanes, the runs' logs and the outbox. The
 * executor serves it over HTTP or mounted (`Executor`); the in-process mock admin calls its endpoints directly
 * (`MockAdmin.layer`). Its inputs are what a user may swap (the settings, the run log store, the admin
 * client) and the outbox's store.
 *
 * @internal
 */
import * as Layer from "effect/Layer"
import type { AdminClient } from "../AdminClient.js"
import type { ExecutorConfig } from "../ExecutorConfig.js"
import type * as Job from "../Job.js"
import type { JobLog } from "../JobLog.js"
import * as Endpoints from "./endpoints.js"
import * as Lanes from "./lanes.js"
import * as Outbox from "./outbox.js"
import type { OutboxStore } from "./outboxStore.js"
import * as RunLogs from "./runLogs.js"

/** The engine's parts a composition may use. */
export type Parts = Endpoints.Endpoints | Lanes.Lanes | Outbox.Outbox | RunLogs.RunLogs

/** The engine's inputs, besides the jobs' own requirements. */
export type Inputs = ExecutorConfig | JobLog | AdminClient | OutboxStore

/** @internal */
export const layer = <E, R>(registry: Job.Registry<E, R>): Layer.Layer<Parts, never, R | Inputs> =>
  Endpoints.layer.pipe(
    Layer.provideMerge(Lanes.layer(registry)),
    Layer.provideMerge(Outbox.layer),
    Layer.provideMerge(RunLogs.layer)
  )
