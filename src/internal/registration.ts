/**
 * The registry beat: the executor registers at start and then every `registryInterval` (30 s), so the admin
 * keeps routing to it and never marks its running jobs' results as lost; on shutdown it sends
 * `registryRemove` once. The beat survives every kind of admin failure and recovers by itself. It says when
 * the executor is first registered; a failure is told once, on one line with what to look at (the same
 * diagnosis as `effect-xxl-job check`), and again only when the problem changes or is over.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Os from "node:os"
import { AdminClient, type AdminError } from "../AdminClient.js"
import { ExecutorConfig } from "../ExecutorConfig.js"
import { RegistryParam } from "../Wire.js"
import * as AdminHints from "./adminHints.js"
import { whileClosing } from "./closing.js"
import * as Metrics from "./metrics.js"

/**
 * Whether an executor with these settings registers: it needs an admin address and an AppName (as Java).
 *
 * @internal
 */
export const registers = (settings: ExecutorConfig["Type"]): boolean =>
  settings.adminAddresses.length > 0 && settings.appName !== ""

/**
 * Starts beating for `address` in the current scope; closing the scope sends `registryRemove`. Does nothing
 * when no admin address or AppName is configured (as Java).
 *
 * @internal
 */
export const start = (address: string): Effect.Effect<void, never, AdminClient | ExecutorConfig | Scope.Scope> =>
  Effect.gen(function*() {
    const settings = yield* ExecutorConfig
    const admin = yield* AdminClient
    if (!registers(settings)) {
      yield* Effect.logWarning("no admin address or AppName configured: the executor does not register")
      return
    }
    const body = new RegistryParam({ registryGroup: "EXECUTOR", registryKey: settings.appName, registryValue: address })
    const interval = Duration.format(settings.registryInterval)
    // What went wrong at the last beat (its failure key); a repeat of the same problem is not told again.
    let failing: string | undefined
    let registered = false
    const beat = admin.registry(body).pipe(
      Effect.withSpan("xxl-job.registry", { attributes: { "xxl.executor.address": address } }),
      Effect.tap(() => {
        const before = { registered, failing }
        registered = true
        failing = undefined
        return !before.registered
          ? Effect.logInfo(`registered as ${address} with the admin`)
          : before.failing !== undefined
          ? Effect.logInfo(`registered again as ${address} with the admin`)
          : Effect.void
      }),
      Effect.catchAllCause((cause) => {
        const problem = adminProblem(cause)
        const key = problem === undefined ? "unexpected" : AdminHints.failureKey(problem)
        const repeat = key === failing
        failing = key
        return Effect.zipRight(
          Metric.increment(Metrics.registrationFailures),
          repeat
            ? Effect.void
            : problem === undefined
            ? Effect.logWarning(`registry beat failed; next try in ${interval}`, cause)
            : Effect.logWarning(
              `${registered ? "no longer registered" : "not registered"} with the admin: ${
                AdminHints.describeFailure(problem, AdminHints.executorSettings)
              } (retrying every ${interval}; logged again only if this changes)`
            )
        )
      })
    )
    yield* Effect.addFinalizer(() =>
      admin.registryRemove(body).pipe(
        Effect.tap(() => Effect.logInfo(`removed ${address} from the admin's registry`)),
        Effect.catchAllCause((cause) => {
          const problem = adminProblem(cause)
          return problem === undefined
            ? Effect.logWarning("registryRemove failed", cause)
            : Effect.logWarning(AdminHints.describeFailure(problem, AdminHints.executorSettings))
        }),
        Effect.timeout(Duration.times(settings.adminTimeout, Math.max(1, settings.adminAddresses.length))),
        Effect.ignore,
        whileClosing
      )
    )
    yield* beat.pipe(
      Effect.repeat(Schedule.fixed(settings.registryInterval)),
      Effect.interruptible,
      Effect.forkScoped
    )
  })

/**
 * The admin's refusal or absence, when that is what failed: told on one line with what to look at. Anything
 * else (a bug) keeps its stack trace.
 */
const adminProblem = (cause: Cause.Cause<AdminError>): AdminError | undefined =>
  Option.getOrUndefined(Cause.failureOption(cause))

/** The first non-internal IPv4 address of this host, as Java picks its default IP. */
const firstHostIp = (): string => {
  for (const infos of Object.values(Os.networkInterfaces())) {
    for (const info of infos ?? []) {
      if (info.family === "IPv4" && !info.internal) return info.address
    }
  }
  return "127.0.0.1"
}

/**
 * The address registered with the admin: the configured one verbatim, else `http://{ip}:{port}/` with the
 * port actually bound.
 *
 * @internal
 */
export const registeredAddress = (settings: ExecutorConfig["Type"], boundPort: number): string =>
  settings.address ?? `http://${formatHost(settings.ip ?? firstHostIp())}:${boundPort}/`

const formatHost = (ip: string) => ip.includes(":") && !ip.startsWith("[") ? `[${ip}]` : ip
