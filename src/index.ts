/**
 * effect-xxl-job: an XXL-JOB executor for TypeScript, built on Effect.
 *
 * What a user writes, swaps or tests against, and why each is here:
 * - `Executor`: the layers that run an executor (own server, mounted, from the environment) and its service.
 * - `Job`: what users write: a job as an Effect (or a Promise), its params Schema, the registry, `JobContext`.
 * - `ExecutorConfig`: the settings, their defaults and `XXL_JOB_*` variables, as layers from code or env.
 * - `JobLog`: the run-log store, swappable: files (Java's layout), Redis, or memory.
 * - `AdminClient`: the admin client, swappable (a test double, a client of your own); errors with data.
 * - `Isolated`: jobs whose code runs in a worker thread or a child process, stopped for real.
 * - `Mount`: the endpoints as handlers for a server you already run (Express, Hono, node:http).
 * - `Wire`: the protocol's Schemas, for tests that speak the wire themselves.
 *
 * Left out on purpose: the engine (dispatch, outbox and its journal, server, registration, wire fast paths)
 * lives in `internal/` and can change in any release; GLUE scripts are a setting (`glueScripts`), not an
 * import; metrics are served at `GET /metrics` and read through `Executor`; OTLP export comes with
 * `Executor.layerFromEnv`. The mock admin is on `effect-xxl-job/testing`, the development admin on
 * `effect-xxl-job/dev`, and the command line is the `effect-xxl-job` binary.
 *
 * @since 1.0.0
 */

/** @since 1.0.0 */
export * as AdminClient from "./AdminClient.js"
/** @since 1.0.0 */
export * as Executor from "./Executor.js"
/** @since 1.0.0 */
export * as ExecutorConfig from "./ExecutorConfig.js"
/** @since 1.0.0 */
export * as Isolated from "./Isolated.js"
/** @since 1.0.0 */
export * as Job from "./Job.js"
/** @since 1.0.0 */
export * as JobLog from "./JobLog.js"
/** @since 1.0.0 */
export * as Mount from "./Mount.js"
/** @since 1.0.0 */
export * as Wire from "./Wire.js"
