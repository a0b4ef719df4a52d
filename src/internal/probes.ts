/**
 * The health probes, for Kubernetes and load balancers: `GET /health` (live: the process answers) and
 * `GET /ready` (ready: the executor serves and is not shutting down). They are served beside `GET /metrics`
 * (see `server.ts`); the admin only ever POSTs, and Java answers every GET with the same refusal, so no answer
 * the admin sees changes.
 *
 * Shutting down starts with a stop signal (SIGTERM from Kubernetes, Ctrl-C), which the executor's runtime
 * (`runMain`, the CLI) turns into a drain. The probes hear that signal too, and `/ready` answers 503 while the
 * executor drains; `/health` stays 200, so that a liveness probe does not kill a pod that is finishing its
 * runs. The probes listen only where something already handles the signal (a listener of theirs alone would
 * keep the signal from ending the process): they look a turn of the event loop after start, since `runMain`
 * installs its handlers once the layers have started building, and again at each readiness probe, for an app
 * that installs its own later.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Http from "node:http"

/** A probe's path. */
export type Probe = "health" | "ready"

/** The probe a request asks for, if it is one: `GET /health` or `GET /ready`, with or without a query string. */
export const probeOf = (method: string | undefined, route: string): Probe | undefined => {
  if (method !== "GET") return undefined
  const path = route.split("?", 1)[0]
  return path === "/health" ? "health" : path === "/ready" ? "ready" : undefined
}

/** What `/ready` answers while the executor shuts down. */
export const drainingText = "not ready: the executor is shutting down (a stop signal came); running jobs are draining"

const stopSignals = ["SIGTERM", "SIGINT"] as const

/** @internal */
export interface Probes {
  readonly answer: (probe: Probe, response: Http.ServerResponse) => void
}

/** The probes of one server; closing the scope stops listening for the stop signal. */
export const make: Effect.Effect<Probes, never, Scope.Scope> = Effect.gen(function*() {
  let draining = false
  let listening = false
  let closed = false
  const onSignal = () => {
    draining = true
  }
  /** Listens for the stop signal, once something else handles it (see the module's comment). */
  const listen = () => {
    if (listening || closed || stopSignals.every((signal) => process.listenerCount(signal) === 0)) return
    listening = true
    for (const signal of stopSignals) process.on(signal, onSignal)
  }
  const soon = setImmediate(listen)
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      closed = true
      clearImmediate(soon)
      if (listening) { for (const signal of stopSignals) process.off(signal, onSignal) }
    })
  )

  const reply = (response: Http.ServerResponse, status: number, text: string) => {
    if (response.destroyed) return
    const body = text + "\n"
    response.writeHead(status, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": Buffer.byteLength(body, "utf8"),
      // Probes must not be cached by a proxy between the prober and the executor.
      "cache-control": "no-store"
    })
    response.end(body)
  }

  const answer = (probe: Probe, response: Http.ServerResponse) => {
    if (probe === "health") return reply(response, 200, "ok")
    listen()
    return draining ? reply(response, 503, drainingText) : reply(response, 200, "ready")
  }
  return { answer }
})
