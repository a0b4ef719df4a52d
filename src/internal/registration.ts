/**
 * The registry beat: the executor registers at start and then every `registryInterval` (30 s), so the admin
 * keeps routing to it and never marks its running jobs' results as lost; on shutdown it sends
 * `registryRemove` once. The beat survives every kind of admin failure and recovers by itself.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Os from "node:os"
import { AdminClient } from "../AdminClient.js"
import { ExecutorConfig } from "../ExecutorConfig.js"
import { RegistryParam } from "../Wire.js"
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
    let failing = false
    const beat = admin.registry(body).pipe(
      Effect.withSpan("xxl-job.registry", { attributes: { "xxl.executor.address": address } }),
      Effect.tap(() => {
        if (!failing) return Effect.void
        failing = false
        return Effect.logInfo(`registered again with the admin as ${address}`)
      }),
      Effect.catchAllCause((cause) => {
        failing = true
        return Effect.zipRight(
          Metric.increment(Metrics.registrationFailures),
          Effect.logWarning(`registry beat failed; next try in ${Duration.format(settings.registryInterval)}`, cause)
        )
      })
    )
    yield* Effect.addFinalizer(() =>
      admin.registryRemove(body).pipe(
        Effect.tap(() => Effect.logInfo(`removed ${address} from the admin's registry`)),
        Effect.catchAllCause((cause) => Effect.logWarning("registryRemove failed", cause)),
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
