/**
 * effect-xxl-job: an XXL-JOB executor for TypeScript, built on Effect.
 *
 * @since 1.0.0
 */

/** @since 1.0.0 */
export * as AdminClient from "./AdminClient.js"
/** @since 1.0.0 */
export * as DevAdmin from "./DevAdmin.js"
/** @since 1.0.0 */
export * as Executor from "./Executor.js"
/** @since 1.0.0 */
export * as ExecutorApi from "./ExecutorApi.js"
/** @since 1.0.0 */
export * as ExecutorConfig from "./ExecutorConfig.js"
/** @since 1.0.0 */
export * as GlueScript from "./GlueScript.js"
/** @since 1.0.0 */
export * as Isolated from "./Isolated.js"
/** @since 1.0.0 */
export * as Job from "./Job.js"
/** @since 1.0.0 */
export * as JobLog from "./JobLog.js"
/** @since 1.0.0 */
export * as JobLogFile from "./JobLogFile.js"
/** @since 1.0.0 */
export * as JobLogRedis from "./JobLogRedis.js"
/** @since 1.0.0 */
export * as Lanes from "./Lanes.js"
/** @since 1.0.0 */
export * as Messages from "./Messages.js"
/** @since 1.0.0 */
export * as Metrics from "./Metrics.js"
/** @since 1.0.0 */
export * as MockAdmin from "./MockAdmin.js"
/** @since 1.0.0 */
export * as Mount from "./Mount.js"
/** @since 1.0.0 */
export * as Outbox from "./Outbox.js"
/** @since 1.0.0 */
export * as OutboxStore from "./OutboxStore.js"
/** @since 1.0.0 */
export * as Registration from "./Registration.js"
/** @since 1.0.0 */
export * as Server from "./Server.js"
/** @since 1.0.0 */
export * as Otlp from "./Otlp.js"
/** @since 1.0.0 */
export * as Wire from "./Wire.js"
