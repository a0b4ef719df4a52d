/**
 * The composition root: `Executor.layer(jobs)` wires the lanes, the outbox, the log store, the admin client,
 * the HTTP server and the registry beat. It is the only module that knows them all.
 *
 * Shutdown runs in the reverse order of construction: the beat sends `registryRemove`, the server stops
 * taking requests, the lanes stop their runs and report them, and the outbox delivers what is left.
 *
 * @since 1.0.0
 */
import type { ServeError } from "@effect/platform/HttpServerError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as AdminClient from "./AdminClient.js"
import * as ExecutorConfig from "./ExecutorConfig.js"
import * as ExecutorApi from "./internal/endpoints.js"
import * as JobLogFile from "./internal/jobLogFile.js"
import * as JobLogRedis from "./internal/jobLogRedis.js"
import * as Lanes from "./internal/lanes.js"
import * as Otlp from "./internal/otlp.js"
import * as Outbox from "./internal/outbox.js"
import * as OutboxStore from "./internal/outboxStore.js"
import * as Registration from "./internal/registration.js"
import * as Server from "./internal/server.js"
import type * as Job from "./Job.js"
import type { JobLog } from "./JobLog.js"
import * as Mount from "./Mount.js"

/**
 * A running executor.
 *
 * @since 1.0.0
 * @category models
 */
export interface Service {
  /** The address registered with the admin. */
  readonly address: string
  /** The port the server listens on. */
  readonly port: number
  /** The port of the metrics server, when metrics have a port of their own. */
  readonly metricsPort: number | undefined
}

/**
 * @since 1.0.0
 * @category tags
 */
export class Executor extends Context.Tag("effect-xxl-job/Executor")<Executor, Service>() {}

/**
 * Everything but the transports: the lanes, the outbox and the endpoints, for a registry of jobs. Used by
 * the in-process mock admin, and by `layerWith`.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerCore = <R>(
  registry: Job.Registry<R>
): Layer.Layer<
  ExecutorApi.ExecutorApi | Lanes.Lanes | Outbox.Outbox,
  never,
  R | ExecutorConfig.ExecutorConfig | JobLog | AdminClient.AdminClient | OutboxStore.OutboxStore
> =>
  ExecutorApi.layer.pipe(
    Layer.provideMerge(Lanes.layer(registry)),
    Layer.provideMerge(Outbox.layer)
  )

/**
 * The executor once its endpoints are reachable at `port`: it registers with the admin, and at shutdown
 * refuses new triggers, removes itself from the registry and drains its runs.
 */
const running = (port: number, metricsPort: number | undefined, where: string) =>
  Effect.gen(function*() {
    const settings = yield* ExecutorConfig.ExecutorConfig
    const address = ExecutorConfig.registeredAddress(settings, port)
    const lanes = yield* Lanes.Lanes
    yield* Effect.logInfo(
      `executor "${settings.appName}" ${where}, ${
        Registration.registers(settings) ? "registered as" : "reachable at"
      } ${address}`
    )
    // Shutdown, while the server still answers (finalizers run last-added first):
    // 1. refuse new triggers with a clear 500; 2. registryRemove; 3. let runs finish within the grace
    // period, then stop them. The server closes after this, then the outbox delivers what is left.
    yield* Effect.addFinalizer(() => lanes.drain(settings.shutdownGrace))
    yield* Registration.start(address)
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(lanes.refuseNew, Effect.logInfo("shutting down: new triggers are refused"))
    )
    return { address, port, metricsPort } satisfies Service
  })

const serving = Layer.scoped(
  Executor,
  Effect.gen(function*() {
    const { metricsPort, port } = yield* Server.Server
    const settings = yield* ExecutorConfig.ExecutorConfig
    return yield* running(port, metricsPort, `listening on ${settings.host}:${port}`)
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
 * The executor with the log store, outbox store and admin client of your choice (provide `JobLog`,
 * `OutboxStore` and `AdminClient`).
 *
 * @since 1.0.0
 * @category layers
 */
export const layerWith = <R>(
  registry: Job.Registry<R>
): Layer.Layer<
  Executor | ExecutorApi.ExecutorApi | Lanes.Lanes | Outbox.Outbox,
  ServeError,
  R | ExecutorConfig.ExecutorConfig | JobLog | AdminClient.AdminClient | OutboxStore.OutboxStore
> =>
  serving.pipe(
    Layer.provide(Server.layer),
    Layer.provideMerge(layerCore(registry))
  )

/** The executor's own log lines in the format the settings name (`XXL_JOB_EXECUTOR_LOG_FORMAT`). */
const logFormat: Layer.Layer<never, never, ExecutorConfig.ExecutorConfig> = Layer.unwrapEffect(
  Effect.map(
    ExecutorConfig.ExecutorConfig,
    (settings) =>
      settings.logFormat === "json" ? Logger.json : settings.logFormat === "logfmt" ? Logger.logFmt : Layer.empty
  )
)

/** The run log store the settings name (`XXL_JOB_EXECUTOR_LOGSTORE`). */
const logStore: Layer.Layer<JobLog, never, ExecutorConfig.ExecutorConfig> = Layer.unwrapEffect(
  Effect.map(
    ExecutorConfig.ExecutorConfig,
    (settings) => settings.logStore === "redis" ? JobLogRedis.layer : JobLogFile.layer
  )
)

/**
 * The executor with its defaults: run logs in files under `logPath` (or in Redis, by the settings), results journaled under
 * `{logPath}/callback-outbox/` until the admin takes them, the admin over HTTP. Needs the
 * settings (`ExecutorConfig.layer(...)` or `ExecutorConfig.layerFromEnv(...)`) and the jobs' requirements.
 *
 * @since 1.0.0
 * @category layers
 */
export const layer = <R>(
  registry: Job.Registry<R>
): Layer.Layer<
  Executor | ExecutorApi.ExecutorApi | Lanes.Lanes | Outbox.Outbox,
  ServeError,
  R | ExecutorConfig.ExecutorConfig
> =>
  layerWith(registry).pipe(
    Layer.provide(Layer.mergeAll(
      logStore,
      OutboxStore.layerFile,
      AdminClient.layer
    ))
  )

/**
 * An executor layer with its settings from the environment (and a `.env` file) over `options`, and the
 * tracer and log format those settings name, built after the settings (so after the file is loaded) and
 * before the executor, so that it and its runs see them.
 */
const configuredFromEnv = <A, E, R>(
  executor: Layer.Layer<A, E, R | ExecutorConfig.ExecutorConfig>,
  options: ExecutorConfig.Options,
  env: ExecutorConfig.EnvFileOptions
): Layer.Layer<
  A | ExecutorConfig.ExecutorConfig,
  E | ExecutorConfig.ExecutorConfigError,
  Exclude<R, ExecutorConfig.ExecutorConfig>
> =>
  executor.pipe(
    Layer.provide(Layer.merge(Otlp.layerFromEnv, logFormat)),
    Layer.provideMerge(ExecutorConfig.layerFromEnv(options, env))
  )

/**
 * The executor configured from the environment (`XXL_JOB_*`, after a `.env` file in the working directory is
 * loaded: see `ExecutorConfig.loadEnvFile`), over the options given in code, with traces to an OTLP endpoint
 * when the standard `OTEL_*` variables name one (see `Otlp`).
 *
 * @since 1.0.0
 * @category layers
 */
export const layerFromEnv = <R>(
  registry: Job.Registry<R>,
  options: ExecutorConfig.Options = {},
  env: ExecutorConfig.EnvFileOptions = {}
): Layer.Layer<
  Executor | ExecutorApi.ExecutorApi | Lanes.Lanes | Outbox.Outbox,
  ServeError | ExecutorConfig.ExecutorConfigError,
  R
> => configuredFromEnv(layer(registry), options, env)

/**
 * The executor without a server of its own, its endpoints served by yours through the `Mount` handlers
 * (`XXL_JOB_EXECUTOR_ADDRESS` must say where: see `Mount`). Stores and admin client as in `layer`.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerMounted = <R>(
  registry: Job.Registry<R>
): Layer.Layer<
  Executor | Mount.Mount | ExecutorApi.ExecutorApi | Lanes.Lanes | Outbox.Outbox,
  ExecutorConfig.ExecutorConfigError,
  R | ExecutorConfig.ExecutorConfig
> =>
  mounted.pipe(
    Layer.provideMerge(Mount.layer),
    Layer.provideMerge(layerCore(registry)),
    Layer.provide(Layer.mergeAll(logStore, OutboxStore.layerFile, AdminClient.layer))
  )

/**
 * `layerMounted`, configured as `layerFromEnv` configures the executor (the environment, a `.env` file, the
 * options in code; traces from `OTEL_*`).
 *
 * @since 1.0.0
 * @category layers
 */
export const layerMountedFromEnv = <R>(
  registry: Job.Registry<R>,
  options: ExecutorConfig.Options = {},
  env: ExecutorConfig.EnvFileOptions = {}
): Layer.Layer<
  Executor | Mount.Mount | ExecutorApi.ExecutorApi | Lanes.Lanes | Outbox.Outbox,
  ExecutorConfig.ExecutorConfigError,
  R
> => configuredFromEnv(layerMounted(registry), options, env)
