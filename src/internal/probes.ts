/**
 * The health probes, for Kubernetes and load balancers: `GET /health` (live: the process answers) and
 * `GET /ready` (ready: the executor serves and is not shutting down). They are served beside `GET /metrics`
 * (see `server.ts`); the admin only ever POSTs, and Java answers every GET with the same refusal, so no answer
 * the admin sees changes.
 *
 * `/ready` answers 503 from the moment the executor refuses new triggers, the first step of its drain (on
 * SIGTERM from Kubernetes, Ctrl-C, or the layer closing); `/health` stays 200, so that a liveness probe does
 * not kill a pod that is finishing its runs.
 *
 * @internal
 */
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
export const drainingText = "not ready: the executor is shutting down; running jobs are draining"

/** @internal */
export interface Probes {
  readonly answer: (probe: Probe, response: Http.ServerResponse) => void
}

/** The probes of an executor that takes triggers while `accepting()`. */
export const make = (accepting: () => boolean): Probes => {
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
  const answer = (probe: Probe, response: Http.ServerResponse) =>
    probe === "health"
      ? reply(response, 200, "ok")
      : accepting()
      ? reply(response, 200, "ready")
      : reply(response, 503, drainingText)
  return { answer }
}
