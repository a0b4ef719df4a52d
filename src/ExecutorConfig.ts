/**
 * The executor's settings: defaults, validation, and the environment variables that set them. The Java
 * executor's property names become environment variables (`xxl.job.executor.port` → `XXL_JOB_EXECUTOR_PORT`);
 * ours follow the same pattern. A bad value fails at start with a message that names its variable.
 *
 * @example
 * ```ts
 * import { ExecutorConfig } from "effect-xxl-job"
 *
 * // From code only.
 * const settings = ExecutorConfig.layer({
 *   appName: "my-app",
 *   adminAddresses: "http://admin:8080/xxl-job-admin",
 *   accessToken: "secret",
 *   port: 9999
 * })
 *
 * // From XXL_JOB_* variables (and a .env file in the working directory) over these; a bad value fails the
 * // start with a message that names its variable, e.g. `XXL_JOB_EXECUTOR_PORT: expected an integer, got "abc"`.
 * const fromEnv = ExecutorConfig.layerFromEnv({ appName: "my-app" })
 * ```
 *
 * This module imports nothing else of ours but the wire's protocol switch and the nearest-name hint.
 *
 * @since 1.0.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Util from "node:util"
import * as LogFormat from "./internal/logFormat.js"
import { nearestName } from "./internal/nearestName.js"
import type { Protocol } from "./Wire.js"

/**
 * The resolved settings.
 *
 * @since 1.0.0
 * @category models
 */
export interface Settings {
  /** Admin base URLs, e.g. `http://127.0.0.1:8080/xxl-job-admin`; tried in order. Empty: no admin. */
  readonly adminAddresses: ReadonlyArray<string>
  /** Checked on every request to the executor and sent on every request to the admin. Empty: no check. */
  readonly accessToken: Redacted.Redacted<string>
  /** The executor's AppName in the admin (its "registry key"). */
  readonly appName: string
  /** The address registered with the admin, verbatim; when undefined, `http://{ip}:{port}/`. */
  readonly address: string | undefined
  /** The IP put in the registered address; when undefined, the first non-internal IPv4 of the host. */
  readonly ip: string | undefined
  /** The port to listen on; 0 picks a free one (the registered address then carries the port chosen). */
  readonly port: number
  /** The interface to listen on (Java binds every interface). */
  readonly host: string
  /** Where run logs live: `{logPath}/{yyyy-MM-dd}/{logId}.log`. */
  readonly logPath: string
  /** Run logs older than this many days are deleted daily; below 3 retention is off (as in Java). */
  readonly logRetentionDays: number
  /** How often the executor registers itself with the admin. */
  readonly registryInterval: Duration.Duration
  /** How long one call to one admin may take. */
  readonly adminTimeout: Duration.Duration
  /** How many triggers may wait behind a running one of the same job (SERIAL_EXECUTION). */
  readonly queueLimit: number
  /** A job's lane with nothing to do for this long is retired. */
  readonly laneIdleTimeout: Duration.Duration
  /** The most results sent to the admin in one callback request. */
  readonly callbackBatchSize: number
  /** Results the admin has not taken after this long are dropped (and the drop is logged loudly). */
  readonly callbackMaxAge: Duration.Duration
  /** The most results the outbox holds; past it the oldest are dropped (and the drop is logged loudly). */
  readonly callbackMaxItems: number
  /** Request bodies larger than this are refused (Java's limit is 5 MiB). */
  readonly maxBodyBytes: number
  /** On shutdown, how long running jobs (and queued triggers) may go on before they are interrupted. */
  readonly shutdownGrace: Duration.Duration
  /** How long a request's headers, then its body, may take to arrive (slow or half-sent requests). */
  readonly requestTimeout: Duration.Duration
  /** The most runs at once across all jobs (0: no limit, as Java); past it triggers wait in their queue. */
  readonly maxConcurrentRuns: number
  /** The most bytes one run's log holds: past it the head and the tail are kept, a marker counts the rest. */
  readonly maxRunLogBytes: number
  /** `"classic"` for admin 2.2 to 3.4, `"3.5"` for the unreleased 3.5 wire. */
  readonly protocol: Protocol
  /** Where run logs go: `"file"` (under `logPath`, Java's layout) or `"redis"` (shared by the app's executors). */
  readonly logStore: LogStoreKind
  /** The Redis server of the `"redis"` log store, `redis://[user:password@]host:port[/db]`. */
  readonly redisUrl: Redacted.Redacted<string>
  /**
   * `GET /metrics` (Prometheus text): `"on"` on the executor's port; a port number: on a server of its own
   * there (0 picks a free one), and the executor's port refuses it like any GET; `"off"`: nowhere.
   */
  readonly metrics: "on" | "off" | number
  /** How the executor's own log lines look: Effect's `"text"`, `"logfmt"` or `"json"` (one object a line). */
  readonly logFormat: "text" | "logfmt" | "json"
  /**
   * Whether GLUE script jobs (shell, python, node, php, powershell sent by the admin) may run. Off by default:
   * they execute whatever the admin sends, so turning them on without an access token is refused.
   */
  readonly glueScripts: boolean
  /**
   * Whether every line of every run's log is also printed to stdout, one structured line each in `logFormat`
   * with the time, level, job id, log id and handler (so `kubectl logs` shows job activity). Off by default.
   */
  readonly runLogStdout: boolean
}

/**
 * The run log stores to choose from.
 *
 * @since 1.0.0
 * @category models
 */
export type LogStoreKind = "file" | "redis"

/**
 * @since 1.0.0
 * @category tags
 */
export class ExecutorConfig extends Context.Tag("effect-xxl-job/ExecutorConfig")<ExecutorConfig, Settings>() {}

/**
 * The settings as given in code: everything optional, lists may be comma-separated strings, durations in
 * seconds.
 *
 * @since 1.0.0
 * @category models
 */
export interface Options {
  readonly adminAddresses?: string | ReadonlyArray<string> | undefined
  readonly accessToken?: string | Redacted.Redacted<string> | undefined
  readonly appName?: string | undefined
  readonly address?: string | undefined
  readonly ip?: string | undefined
  readonly port?: number | undefined
  readonly host?: string | undefined
  readonly logPath?: string | undefined
  readonly logRetentionDays?: number | undefined
  readonly registryIntervalSeconds?: number | undefined
  readonly adminTimeoutSeconds?: number | undefined
  readonly queueLimit?: number | undefined
  readonly laneIdleSeconds?: number | undefined
  readonly callbackBatchSize?: number | undefined
  readonly callbackMaxAgeHours?: number | undefined
  readonly callbackMaxItems?: number | undefined
  readonly maxBodyBytes?: number | undefined
  readonly shutdownGraceSeconds?: number | undefined
  readonly requestTimeoutSeconds?: number | undefined
  readonly maxConcurrentRuns?: number | undefined
  readonly maxRunLogBytes?: number | undefined
  readonly protocol?: Protocol | undefined
  readonly logStore?: LogStoreKind | undefined
  readonly redisUrl?: string | Redacted.Redacted<string> | undefined
  readonly metrics?: "on" | "off" | number | undefined
  readonly logFormat?: "text" | "logfmt" | "json" | undefined
  /** `true` / `"on"` to run GLUE script jobs (needs an access token). */
  readonly glueScripts?: boolean | "on" | "off" | "true" | "false" | undefined
  /** `true` / `"on"` to print run log lines to stdout too. */
  readonly runLogStdout?: boolean | "on" | "off" | "true" | "false" | undefined
}

/**
 * Each option's environment variable.
 *
 * @since 1.0.0
 * @category constants
 */
export const environmentNames = {
  adminAddresses: "XXL_JOB_ADMIN_ADDRESSES",
  accessToken: "XXL_JOB_ACCESS_TOKEN",
  appName: "XXL_JOB_EXECUTOR_APPNAME",
  address: "XXL_JOB_EXECUTOR_ADDRESS",
  ip: "XXL_JOB_EXECUTOR_IP",
  port: "XXL_JOB_EXECUTOR_PORT",
  host: "XXL_JOB_EXECUTOR_HOST",
  logPath: "XXL_JOB_EXECUTOR_LOGPATH",
  logRetentionDays: "XXL_JOB_EXECUTOR_LOGRETENTIONDAYS",
  registryIntervalSeconds: "XXL_JOB_EXECUTOR_REGISTRY_INTERVAL_SECONDS",
  adminTimeoutSeconds: "XXL_JOB_ADMIN_TIMEOUT_SECONDS",
  queueLimit: "XXL_JOB_EXECUTOR_QUEUE_LIMIT",
  laneIdleSeconds: "XXL_JOB_EXECUTOR_LANE_IDLE_SECONDS",
  callbackBatchSize: "XXL_JOB_CALLBACK_BATCH_SIZE",
  callbackMaxAgeHours: "XXL_JOB_CALLBACK_MAX_AGE_HOURS",
  callbackMaxItems: "XXL_JOB_CALLBACK_MAX_ITEMS",
  maxBodyBytes: "XXL_JOB_EXECUTOR_MAX_BODY_BYTES",
  shutdownGraceSeconds: "XXL_JOB_EXECUTOR_SHUTDOWN_GRACE_SECONDS",
  requestTimeoutSeconds: "XXL_JOB_EXECUTOR_REQUEST_TIMEOUT_SECONDS",
  maxConcurrentRuns: "XXL_JOB_EXECUTOR_MAX_CONCURRENT_RUNS",
  maxRunLogBytes: "XXL_JOB_EXECUTOR_MAX_RUN_LOG_BYTES",
  protocol: "XXL_JOB_PROTOCOL",
  logStore: "XXL_JOB_EXECUTOR_LOGSTORE",
  redisUrl: "XXL_JOB_EXECUTOR_REDIS_URL",
  metrics: "XXL_JOB_EXECUTOR_METRICS",
  logFormat: "XXL_JOB_EXECUTOR_LOG_FORMAT",
  glueScripts: "XXL_JOB_EXECUTOR_GLUE_SCRIPTS",
  runLogStdout: "XXL_JOB_EXECUTOR_RUN_LOG_STDOUT"
} as const satisfies Record<keyof Options, string>

/**
 * The defaults, as in the Java executor where it has one.
 *
 * @since 1.0.0
 * @category constants
 */
export const defaults = {
  port: 9999,
  host: "0.0.0.0",
  logPath: "/data/applogs/xxl-job/jobhandler",
  logRetentionDays: 30,
  registryIntervalSeconds: 30,
  adminTimeoutSeconds: 3,
  queueLimit: 1000,
  laneIdleSeconds: 90,
  callbackBatchSize: 50,
  callbackMaxAgeHours: 7 * 24,
  callbackMaxItems: 100_000,
  maxBodyBytes: 5 * 1024 * 1024,
  shutdownGraceSeconds: 10,
  requestTimeoutSeconds: 10,
  maxConcurrentRuns: 0,
  maxRunLogBytes: 16 * 1024 * 1024,
  protocol: "classic" as Protocol,
  logStore: "file" as LogStoreKind,
  redisUrl: "redis://127.0.0.1:6379",
  metrics: "on" as "on" | "off" | number,
  logFormat: "text" as "text" | "logfmt" | "json",
  glueScripts: false,
  runLogStdout: false
} as const

/** The integer options: their allowed range (defaults above). */
const integerRanges = {
  port: [0, 65535],
  logRetentionDays: [-1, 36500],
  registryIntervalSeconds: [1, 3600],
  adminTimeoutSeconds: [1, 600],
  queueLimit: [1, 10_000_000],
  laneIdleSeconds: [1, 86400],
  callbackBatchSize: [1, 10_000],
  callbackMaxAgeHours: [1, 24 * 365],
  callbackMaxItems: [1, 100_000_000],
  maxBodyBytes: [1024, 1 << 30],
  shutdownGraceSeconds: [0, 3600],
  requestTimeoutSeconds: [1, 600],
  maxConcurrentRuns: [0, 10_000_000],
  maxRunLogBytes: [1024, 2 ** 40]
} as const satisfies Partial<Record<keyof Options, readonly [number, number]>>

type IntegerKey = keyof typeof integerRanges

/**
 * A setting that cannot be used: a bad value, or one that does not work on this machine (a port in use, a log
 * path this user cannot write). `setting` is the environment variable when the value came from the
 * environment, else the option's name; both, as `XXL_JOB_EXECUTOR_PORT (port)`, when a check at start cannot
 * tell which.
 *
 * A person causes it and can fix it from its message alone, so its stack is that one line: printed (by
 * `NodeRuntime.runMain`, say) it reads as one line, not as frames of our code.
 *
 * @since 1.0.0
 * @category errors
 */
export class ExecutorConfigError extends Data.TaggedError("ExecutorConfigError")<{
  readonly setting: string
  readonly problem: string
}> {
  constructor(args: { readonly setting: string; readonly problem: string }) {
    super(args)
    this.stack = `${this.name}: ${this.message}`
  }

  override get message(): string {
    return `${this.setting}: ${this.problem}`
  }
}

type Key = keyof Options

const invalid = (setting: string, problem: string) => Effect.fail(new ExecutorConfigError({ setting, problem }))

/** A switch: `true`, `"on"` or `"true"`; `false`, `"off"` or `"false"`; anything else refused. */
const onOff = (setting: string, value: boolean | string): Effect.Effect<boolean, ExecutorConfigError> =>
  value === true || value === "on" || value === "true"
    ? Effect.succeed(true)
    : value === false || value === "off" || value === "false"
    ? Effect.succeed(false)
    : invalid(setting, `expected "on" or "off", got ${JSON.stringify(value)}`)

/**
 * A character an HTTP header value cannot carry, as Node checks it: a control character other than tab (a line
 * break, say), or one past Latin-1. The access token and the app name travel in headers; Node would refuse
 * every request that carried such a value, and the admin could never match it.
 */
const notForHeaders = /[^\t\x20-\x7e\x80-\xff]/
const headerProblem = "contains a character an HTTP header cannot carry (a control character such as a line break, " +
  "or one outside Latin-1)"

/** Every integer option, checked against its range, or its default. */
const checkIntegers = (options: Options, label: (key: Key) => string) =>
  Effect.gen(function*() {
    const values = {} as Record<IntegerKey, number>
    for (const key of Object.keys(integerRanges) as Array<IntegerKey>) {
      const [min, max] = integerRanges[key]
      const value = options[key]
      if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
        return yield* invalid(label(key), `expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`)
      }
      values[key] = value ?? defaults[key]
    }
    return values
  })

const checkUrl = (setting: string, value: string) => {
  try {
    const url = new URL(value)
    if (url.protocol === "http:" || url.protocol === "https:") return Effect.succeed(value)
  } catch {
    // fall through to the error below
  }
  return invalid(setting, `expected http:// or https:// URLs, got ${JSON.stringify(value)}`)
}

const checkRedisUrl = (setting: string, value: string) => {
  try {
    const url = new URL(value)
    if (url.protocol === "redis:" || url.protocol === "rediss:") return Effect.void
  } catch {
    // fall through to the error below
  }
  // The URL may hold a password: say what is wrong without repeating it.
  return invalid(setting, "expected a redis:// or rediss:// URL")
}

const splitList = (value: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  (typeof value === "string" ? value.split(",") : value ?? []).map((s) => s.trim()).filter((s) => s.length > 0)

const blankToUndefined = (value: string | undefined) =>
  value === undefined || value.trim() === "" ? undefined : value.trim()

/**
 * Validates options (from code, or already read from the environment) into settings. `label` names each
 * option in error messages.
 */
const resolve = (options: Options, label: (key: Key) => string) =>
  Effect.gen(function*() {
    const adminAddresses = splitList(options.adminAddresses)
    for (const address of adminAddresses) yield* checkUrl(label("adminAddresses"), address)
    const appName = (options.appName ?? "").trim()
    if (appName.length > 64) {
      return yield* invalid(label("appName"), `at most 64 characters (the admin's limit), got ${appName.length}`)
    }
    if (adminAddresses.length > 0 && appName === "") {
      return yield* invalid(label("appName"), `required when ${label("adminAddresses")} is set`)
    }
    if (notForHeaders.test(appName)) return yield* invalid(label("appName"), headerProblem)
    const address = blankToUndefined(options.address)
    if (address !== undefined) yield* checkUrl(label("address"), address)
    const protocol = options.protocol ?? defaults.protocol
    if (protocol !== "classic" && protocol !== "3.5") {
      return yield* invalid(label("protocol"), `expected "classic" or "3.5", got ${JSON.stringify(protocol)}`)
    }
    const logStore = options.logStore ?? defaults.logStore
    if (logStore !== "file" && logStore !== "redis") {
      return yield* invalid(label("logStore"), `expected "file" or "redis", got ${JSON.stringify(logStore)}`)
    }
    const redisUrl = Redacted.isRedacted(options.redisUrl)
      ? options.redisUrl
      : Redacted.make(blankToUndefined(options.redisUrl) ?? defaults.redisUrl)
    yield* checkRedisUrl(label("redisUrl"), Redacted.value(redisUrl))
    const given = options.metrics ?? defaults.metrics
    // From the environment a port comes as text.
    const metrics = typeof given === "string" && /^\d+$/.test(given) ? Number(given) : given
    if (
      metrics !== "on" && metrics !== "off" &&
      !(typeof metrics === "number" && Number.isInteger(metrics) && metrics >= 0 && metrics <= 65535)
    ) {
      return yield* invalid(label("metrics"), `expected "on", "off" or a port number, got ${JSON.stringify(given)}`)
    }
    const logFormat = options.logFormat ?? defaults.logFormat
    if (logFormat !== "text" && logFormat !== "logfmt" && logFormat !== "json") {
      return yield* invalid(label("logFormat"), `expected "text", "logfmt" or "json", got ${JSON.stringify(logFormat)}`)
    }
    const token = options.accessToken
    const accessToken = Redacted.isRedacted(token) ? token : Redacted.make((token ?? "").trim())
    // The token itself stays out of the message: it is a secret.
    if (notForHeaders.test(Redacted.value(accessToken))) return yield* invalid(label("accessToken"), headerProblem)
    const glueScripts = yield* onOff(label("glueScripts"), options.glueScripts ?? defaults.glueScripts)
    if (glueScripts && Redacted.value(accessToken) === "") {
      // Anyone who can reach the port could run commands here: public exploits do exactly that.
      return yield* invalid(
        label("glueScripts"),
        `GLUE scripts run whatever code a /run request carries; they are refused without an access token (set ${environmentNames.accessToken} here and in the admin)`
      )
    }
    const runLogStdout = yield* onOff(label("runLogStdout"), options.runLogStdout ?? defaults.runLogStdout)
    const n = yield* checkIntegers(options, label)
    return {
      adminAddresses,
      accessToken,
      appName,
      address,
      ip: blankToUndefined(options.ip),
      port: n.port,
      host: blankToUndefined(options.host) ?? defaults.host,
      logPath: blankToUndefined(options.logPath) ?? defaults.logPath,
      logRetentionDays: n.logRetentionDays,
      registryInterval: Duration.seconds(n.registryIntervalSeconds),
      adminTimeout: Duration.seconds(n.adminTimeoutSeconds),
      queueLimit: n.queueLimit,
      laneIdleTimeout: Duration.seconds(n.laneIdleSeconds),
      callbackBatchSize: n.callbackBatchSize,
      callbackMaxAge: Duration.hours(n.callbackMaxAgeHours),
      callbackMaxItems: n.callbackMaxItems,
      maxBodyBytes: n.maxBodyBytes,
      shutdownGrace: Duration.seconds(n.shutdownGraceSeconds),
      requestTimeout: Duration.seconds(n.requestTimeoutSeconds),
      maxConcurrentRuns: n.maxConcurrentRuns,
      maxRunLogBytes: n.maxRunLogBytes,
      protocol,
      logStore,
      redisUrl,
      metrics,
      logFormat,
      glueScripts,
      runLogStdout
    } satisfies Settings
  })

/**
 * Settings from code.
 *
 * @since 1.0.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Settings, ExecutorConfigError> =>
  resolve(options, (key) => key)

const numericKeys = Object.keys(integerRanges) as ReadonlyArray<Key>

/**
 * Settings from the environment (through Effect's `ConfigProvider`, so tests can supply a map), over the
 * options given in code: a variable that is set wins over the code's value.
 *
 * @since 1.0.0
 * @category constructors
 */
export const fromEnv = (options: Options = {}): Effect.Effect<Settings, ExecutorConfigError> =>
  Effect.gen(function*() {
    const fromEnvironment: Record<string, unknown> = {}
    const fromCode = new Set<Key>()
    for (const [key, name] of Object.entries(environmentNames) as Array<[Key, string]>) {
      const raw = yield* Config.option(Config.string(name)).pipe(
        Effect.orElseSucceed(() => Option.none<string>())
      )
      if (Option.isNone(raw) || raw.value.trim() === "") {
        if (options[key] !== undefined) fromCode.add(key)
        continue
      }
      const value = raw.value.trim()
      if (numericKeys.includes(key)) {
        const number = Number(value)
        if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(number)) {
          return yield* invalid(name, `expected an integer, got ${JSON.stringify(value)}`)
        }
        fromEnvironment[key] = number
      } else {
        fromEnvironment[key] = value
      }
    }
    return yield* resolve(
      { ...options, ...fromEnvironment } as Options,
      (key) => fromCode.has(key) ? key : environmentNames[key]
    )
  })

/**
 * Loads a `.env` file into `process.env` the way dotenv and `node --env-file` do: a variable the environment
 * already has keeps its value, so the precedence is the environment, then the file, then the options in
 * code, then the defaults. Every variable in the file is loaded (the proxy and `OTEL_*` variables, your own
 * jobs' settings), not only `XXL_JOB_*`. A missing file is no error unless `required`. The names loaded.
 *
 * @since 1.0.0
 * @category constructors
 */
export const loadEnvFile = (
  path = ".env",
  options: { readonly required?: boolean | undefined } = {}
): Effect.Effect<ReadonlyArray<string>, ExecutorConfigError> =>
  Effect.gen(function*() {
    const file = Path.resolve(path)
    let text: string
    try {
      text = Fs.readFileSync(file, "utf8")
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT" && options.required !== true) return []
      return yield* invalid(file, `cannot read the env file (${(error as Error).message})`)
    }
    const parsed = Util.parseEnv(text)
    const loaded: Array<string> = []
    for (const [name, value] of Object.entries(parsed)) {
      if (value === undefined || process.env[name] !== undefined) continue
      process.env[name] = value
      loaded.push(name)
    }
    if (loaded.length > 0) yield* Effect.logInfo(`loaded ${loaded.length} variable(s) from ${file}`)
    return loaded
  })

/**
 * @since 1.0.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<ExecutorConfig, ExecutorConfigError> =>
  Layer.effect(ExecutorConfig, make(options))

/**
 * `XXL_JOB_*` variables (any case) that no setting reads, each with the known name nearest to it: a misspelled
 * variable would otherwise be ignored without a word.
 */
const unknownVariables = (names: Iterable<string>): ReadonlyArray<{ name: string; nearest: string | undefined }> => {
  const known: ReadonlyArray<string> = Object.values(environmentNames)
  return [...names]
    .filter((name) => name.toUpperCase().startsWith("XXL_JOB_") && !known.includes(name))
    .sort()
    .map((name) => ({ name, nearest: nearestName(name, known) }))
}

/** A warning for each `XXL_JOB_*` variable of the process no setting reads (after the `.env` file is loaded). */
const warnUnknownVariables = Effect.suspend(() =>
  Effect.forEach(
    unknownVariables(Object.keys(process.env)),
    ({ name, nearest }) =>
      Effect.logWarning(
        `${name} is not a variable the executor reads, so it is ignored${
          nearest === undefined ? "" : `: did you mean ${nearest}?`
        }`
      ),
    { discard: true }
  )
)

/**
 * The settings from the environment: see `fromEnv` and `EnvFileOptions`. Warns of `XXL_JOB_*` variables that no
 * setting reads (`XXL_JOB_EXECUTOR_PROT`: did you mean `XXL_JOB_EXECUTOR_PORT`?).
 *
 * @since 1.0.0
 * @category layers
 */
export const layerFromEnv = (
  options: Options = {},
  env: EnvFileOptions = {}
): Layer.Layer<ExecutorConfig, ExecutorConfigError> =>
  Layer.effect(
    ExecutorConfig,
    Effect.gen(function*() {
      yield* loadEnvFileOf(env)
      // The warnings in the log format the settings name; before the error, when they cannot be read (a
      // misspelled name may be why).
      const settings = yield* Effect.tapError(fromEnv(options), () => warnUnknownVariables)
      yield* Effect.provide(warnUnknownVariables, LogFormat.layer(settings.logFormat))
      return settings
    })
  )

/**
 * Where `layerFromEnv` finds a `.env` file: `.env` in the working directory by default (no error when there is
 * none), another path (then it must exist), or `false` for none.
 *
 * @since 1.0.0
 * @category models
 */
export interface EnvFileOptions {
  readonly envFile?: string | false | undefined
}

/** Loads the `.env` file the options name (see `EnvFileOptions`). */
const loadEnvFileOf = (env: EnvFileOptions): Effect.Effect<ReadonlyArray<string>, ExecutorConfigError> =>
  env.envFile === false
    ? Effect.succeed([])
    : loadEnvFile(env.envFile ?? ".env", { required: env.envFile !== undefined })
