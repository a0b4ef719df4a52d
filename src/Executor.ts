/**
 * The executor: `Executor.layerFromEnv(jobs)` serves your jobs to the admin. It listens for the admin's
 * triggers, runs each as a fiber, keeps its log, and reports its result until the admin has taken it;
 * it registers with the admin every 30 s and, on shutdown, removes itself, lets running jobs finish within a
 * grace period, then stops them and reports what is left.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { Executor, Job } from "effect-xxl-job"
 *
 * const Hello = Job.make({ name: "hello", run: Effect.succeed("hello") })
 *
 * // Settings from XXL_JOB_* variables (and a .env file), over these.
 * Layer.launch(Executor.layerFromEnv(Job.registry(Hello), { appName: "my-app" })).pipe(NodeRuntime.runMain)
 * ```
 *
 * Every layer here outputs `Executor` (where it is reachable, what it is doing, its metrics: what a program
 * has a reason to read) and nothing of the engine; the mounted ones also `Mount`, the handlers to mount.
 *
 * Settings that cannot work here fail the start with an `ExecutorConfigError` of one line naming the setting
 * to change (a log path this user cannot write, checked before any file is opened; a port in use), and a
 * few that may not do what was meant are warned of once (no access token on an interface others reach, a
 * registered address the server does not listen on).
 *
 * Shutdown runs in the reverse order of construction: the beat sends `registryRemove`, the server stops
 * taking requests, the lanes stop their runs and report them, and the outbox delivers what is left.
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as AdminClient from "./AdminClient.js"
import * as ExecutorConfig from "./ExecutorConfig.js"
import { Endpoints } from "./internal/endpoints.js"
import * as Engine from "./internal/engine.js"
import { Lanes } from "./internal/lanes.js"
import * as LogFormat from "./internal/logFormat.js"
import * as MountHandlers from "./internal/mount.js"
import * as Otlp from "./internal/otlp.js"
import { Outbox } from "./internal/outbox.js"
import * as OutboxStore from "./internal/outboxStore.js"
import * as Registration from "./internal/registration.js"
import * as Server from "./internal/server.js"
import { countRepeatsOnce } from "./internal/signals.js"
import * as StartupChecks from "./internal/startupChecks.js"
import type * as Job from "./Job.js"
import * as JobLog from "./JobLog.js"
import * as Mount from "./Mount.js"

/**
 * What the executor is doing now.
 *
 * @since 1.0.0
 * @category models
 */
export interface Status {
  /** Runs going on (stopped ones still ending included). */
  readonly running: number
  /** Triggers waiting behind a run of the same job. */
  readonly queued: number
  /** Results the admin has not taken yet. */
  readonly unreported: number
}

/**
 * A running executor.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Executor } from "effect-xxl-job"
 *
 * // A readiness check of your own: up, and not holding results the admin has not taken for long.
 * const ready = Effect.map(Executor.Executor, (executor) => executor.status)
 * ```
 *
 * @since 1.0.0
 * @category models
 */
export interface Service {
  /** The address registered with the admin. */
  readonly address: string
  /** The port the server listens on (the host server's, when mounted). */
  readonly port: number
  /** The port of the metrics server, when metrics have a port of their own. */
  readonly metricsPort: number | undefined
  /** What it is doing now. */
  readonly status: Effect.Effect<Status>
  /** Every metric, as `GET /metrics` answers it (Prometheus text): for serving metrics yourself. */
  readonly metrics: Effect.Effect<string>
}

/**
 * @since 1.0.0
 * @category tags
 */
export class Executor extends Context.Tag("effect-xxl-job/Executor")<Executor, Service>() {}

/**
 * The executor once its endpoints are reachable at `port`: it registers with the admin, and at shutdown
 * refuses new triggers, removes itself from the registry and drains its runs.
 */
const running = (port: number, metricsPort: number | undefined, where: string) =>
  Effect.gen(function*() {
    const settings = yield* ExecutorConfig.ExecutorConfig
    const address = Registration.registeredAddress(settings, port)
    const lanes = yield* Lanes
    const outbox = yield* Outbox
    const endpoints = yield* Endpoints
    yield* Effect.logInfo(
      `executor "${settings.appName}" ${where}, ${
        Registration.registers(settings) ? "registering as" : "reachable at"
      } ${address}`
    )
    // Shutdown, while the server still answers (finalizers run last-added first):
    // 1. refuse new triggers with a clear 500; 2. registryRemove; 3. let runs finish within the grace
    // period, then stop them. The server closes after this, then the outbox delivers what is left. A signal
    // relayed twice by a wrapper (tsx, a terminal) counts once meanwhile.
    yield* countRepeatsOnce
    yield* Effect.addFinalizer(() => lanes.drain(settings.shutdownGrace))
    yield* Registration.start(address)
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(lanes.refuseNew, Effect.logInfo("shutting down: new triggers are refused"))
    )
    const status = Effect.zipWith(lanes.stats, outbox.backlog, (stats, unreported): Status => ({
      running: stats.running,
      queued: stats.queued,
      unreported
    }))
    return { address, port, metricsPort, status, metrics: endpoints.metrics } satisfies Service
  })

const serving = Layer.scoped(
  Executor,
  Effect.gen(function*() {
    const { metricsPort, port } = yield* Server.Server
    const settings = yield* ExecutorConfig.ExecutorConfig
    const executor = yield* running(port, metricsPort, `listening on ${settings.host}:${port}`)
    for (const warning of StartupChecks.serverWarnings(settings, port, executor.address)) {
      yield* Effect.logWarning(warning)
    }
    return executor
  })
)

const mounted = Layer.scoped(
  Executor,
  Effect.gen(function*() {
    const { basePath } = yield* Mount.Mount
    const settings = yield* ExecutorConfig.ExecutorConfig
    // The address is required when mounted (Mount checks it): its port is the host server's.
    const url = new URL(settings.address!)
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80))
    return yield* running(port, undefined, `mounted at ${basePath === "" ? "/" : basePath}`)
  })
)

/**
 * The settings checked before any file is opened: the log path can be written (the results journal, the run
 * logs and GLUE sources live there), the ports can be bound (served), or the mounted executor's own settings.
 * Built before the stores, so that nothing starts (an earlier process's results sent, say) before they pass.
 */
const checkedFirst = (
  how: "serving" | "mounted"
): Layer.Layer<never, ExecutorConfig.ExecutorConfigError, ExecutorConfig.ExecutorConfig> =>
  Layer.effectDiscard(
    Effect.gen(function*() {
      const settings = yield* ExecutorConfig.ExecutorConfig
      if (how === "mounted") yield* MountHandlers.checkSettings
      yield* StartupChecks.checkLogPath(settings)
      if (how === "serving") yield* StartupChecks.checkPorts(settings)
    })
  )

/** The executor on its own server, over the stores and admin client it is given. */
const servingWith = <E, R>(registry: Job.Registry<E, R>) =>
  serving.pipe(
    Layer.provide(Server.layer),
    Layer.provide(Engine.layer(registry)),
    Layer.provide(OutboxStore.layerFile)
  )

/**
 * The executor with the run log store and admin client of your choice: provide `JobLog` (e.g.
 * `JobLog.layerRedis`) and `AdminClient` (e.g. `AdminClient.layer`, or a client of your own), and the
 * settings. Results are journaled under `{logPath}/callback-outbox/` until the admin takes them.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { AdminClient, Executor, ExecutorConfig, Job, JobLog } from "effect-xxl-job"
 *
 * declare const jobs: Job.Registry
 * const executor = Executor.layerWith(jobs).pipe(
 *   Layer.provide(Layer.merge(JobLog.layerRedis, AdminClient.layer)),
 *   Layer.provide(ExecutorConfig.layer({ appName: "my-app", adminAddresses: "http://admin:8080/xxl-job-admin" }))
 * )
 * ```
 *
 * @since 1.0.0
 * @category layers
 */
export const layerWith = <E, R>(
  registry: Job.Registry<E, R>
): Layer.Layer<
  Executor,
  ExecutorConfig.ExecutorConfigError,
  R | ExecutorConfig.ExecutorConfig | JobLog.JobLog | AdminClient.AdminClient
> => servingWith(registry).pipe(Layer.provide(checkedFirst("serving")))

/** The executor's own log lines in the format the settings name (`XXL_JOB_EXECUTOR_LOG_FORMAT`). */
const logFormat: Layer.Layer<never, never, ExecutorConfig.ExecutorConfig> = Layer.unwrapEffect(
  Effect.map(ExecutorConfig.ExecutorConfig, (settings) => LogFormat.layer(settings.logFormat))
)

/** The run log store the settings name (`XXL_JOB_EXECUTOR_LOGSTORE`), and the admin over HTTP. */
const defaultParts: Layer.Layer<JobLog.JobLog | AdminClient.AdminClient, never, ExecutorConfig.ExecutorConfig> = Layer
  .merge(
    Layer.unwrapEffect(
      Effect.map(
        ExecutorConfig.ExecutorConfig,
        (settings) => settings.logStore === "redis" ? JobLog.layerRedis : JobLog.layerFile
      )
    ),
    AdminClient.layer
  )

/**
 * The executor with its defaults: run logs in files under `logPath` (or in Redis, by the settings), results
 * journaled under `{logPath}/callback-outbox/` until the admin takes them, the admin over HTTP. Needs the
 * settings (`ExecutorConfig.layer(...)` or `ExecutorConfig.layerFromEnv(...)`) and the jobs' requirements.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Executor, ExecutorConfig, Job } from "effect-xxl-job"
 *
 * declare const jobs: Job.Registry
 * const executor = Executor.layer(jobs).pipe(Layer.provide(ExecutorConfig.layer({ appName: "my-app", port: 9999 })))
 * ```
 *
 * @since 1.0.0
 * @category layers
 */
export const layer = <E, R>(
  registry: Job.Registry<E, R>
): Layer.Layer<Executor, ExecutorConfig.ExecutorConfigError, R | ExecutorConfig.ExecutorConfig> =>
  servingWith(registry).pipe(Layer.provide(defaultParts), Layer.provide(checkedFirst("serving")))

/**
 * An executor layer with its settings from the environment (and a `.env` file) over `options`, and the
 * tracer and log format those settings name, built after the settings (so after the file is loaded) and
 * before the executor, so that it and its runs see them.
 */
const configuredFromEnv = <A, E, R>(
  executor: Layer.Layer<A, E, R | ExecutorConfig.ExecutorConfig>,
  options: ExecutorConfig.Options,
  env: ExecutorConfig.EnvFileOptions
): Layer.Layer<A, E | ExecutorConfig.ExecutorConfigError, Exclude<R, ExecutorConfig.ExecutorConfig>> =>
  executor.pipe(
    Layer.provide(Layer.merge(Otlp.layerFromEnv, logFormat)),
    Layer.provide(ExecutorConfig.layerFromEnv(options, env))
  )

/**
 * The executor configured from the environment (`XXL_JOB_*`, after a `.env` file in the working directory is
 * loaded: see `ExecutorConfig.loadEnvFile`), over the options given in code, with traces and metrics to an
 * OTLP endpoint when the standard `OTEL_*` variables name one (`OTEL_EXPORTER_OTLP_ENDPOINT`,
 * `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`, `OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER` /
 * `OTEL_METRICS_EXPORTER=none`).
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { Executor, Job } from "effect-xxl-job"
 *
 * declare const jobs: Job.Registry
 * Layer.launch(Executor.layerFromEnv(jobs, { appName: "my-app" })).pipe(NodeRuntime.runMain)
 * ```
 *
 * @since 1.0.0
 * @category layers
 */
export const layerFromEnv = <E, R>(
  registry: Job.Registry<E, R>,
  options: ExecutorConfig.Options = {},
  env: ExecutorConfig.EnvFileOptions = {}
): Layer.Layer<Executor, ExecutorConfig.ExecutorConfigError, R> => configuredFromEnv(layer(registry), options, env)

/**
 * The executor without a server of its own, its endpoints served by yours through the `Mount` handlers
 * (`XXL_JOB_EXECUTOR_ADDRESS` must say where: see `Mount`). Stores and admin client as in `layer`.
 *
 * @example
 * ```ts
 * import { Effect, Layer, ManagedRuntime } from "effect"
 * import { Executor, ExecutorConfig, Job, Mount } from "effect-xxl-job"
 *
 * declare const jobs: Job.Registry
 * const runtime = ManagedRuntime.make(
 *   Executor.layerMounted(jobs).pipe(
 *     Layer.provide(ExecutorConfig.layer({ appName: "my-app", address: "http://10.0.0.5:3000/xxl-job/" }))
 *   )
 * )
 * const { node } = await runtime.runPromise(Mount.Mount) // app.use(node) in Express
 * ```
 *
 * @since 1.0.0
 * @category layers
 */
export const layerMounted = <E, R>(
  registry: Job.Registry<E, R>
): Layer.Layer<Executor | Mount.Mount, ExecutorConfig.ExecutorConfigError, R | ExecutorConfig.ExecutorConfig> =>
  mounted.pipe(
    Layer.provideMerge(MountHandlers.layer),
    Layer.provide(Engine.layer(registry)),
    Layer.provide(OutboxStore.layerFile),
    Layer.provide(defaultParts),
    Layer.provide(checkedFirst("mounted"))
  )

/**
 * `layerMounted`, configured as `layerFromEnv` configures the executor (the environment, a `.env` file, the
 * options in code; traces from `OTEL_*`).
 *
 * @since 1.0.0
 * @category layers
 */
export const layerMountedFromEnv = <E, R>(
  registry: Job.Registry<E, R>,
  options: ExecutorConfig.Options = {},
  env: ExecutorConfig.EnvFileOptions = {}
): Layer.Layer<Executor | Mount.Mount, ExecutorConfig.ExecutorConfigError, R> =>
  configuredFromEnv(layerMounted(registry), options, env)
