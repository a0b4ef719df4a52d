/**
 * The handlers of a mounted executor (see `Mount`), over the endpoints and the settings.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import { ExecutorConfig, ExecutorConfigError } from "../ExecutorConfig.js"
import { type Handlers, Mount } from "../Mount.js"
import { Endpoints } from "./endpoints.js"
import * as Server from "./server.js"

/**
 * The route under `basePath` (`/run`, `/beat?x`…), or undefined when `target` is not under it. Java routes on
 * the raw target, query string included, and so do we once the base is cut off.
 */
const routeUnder = (basePath: string, target: string): string | undefined => {
  if (basePath === "") return target
  if (!target.startsWith(basePath)) return undefined
  const rest = target.slice(basePath.length)
  return rest.startsWith("/") ? rest : undefined
}

const utf8 = new TextDecoder("utf-8")

/**
 * The settings a mounted executor needs: the address (it says where the host server is) and no metrics port.
 * Checked before anything is opened, and again by `make`.
 *
 * @internal
 */
export const checkSettings: Effect.Effect<string, ExecutorConfigError, ExecutorConfig> = Effect.gen(function*() {
  const settings = yield* ExecutorConfig
  if (settings.address === undefined) {
    return yield* new ExecutorConfigError({
      setting: "address",
      problem:
        "required when the executor is mounted in another server: the URL the admin reaches it at, with the path it is mounted under (e.g. http://10.0.0.5:3000/xxl-job/)"
    })
  }
  if (typeof settings.metrics === "number") {
    return yield* new ExecutorConfigError({
      setting: "metrics",
      problem: "a port of its own is not available when mounted: use \"on\" (under the mounted path) or \"off\""
    })
  }
  return settings.address
})

/** The handlers, for the executor's endpoints and settings. */
export const make = Effect.gen(function*() {
  const address = yield* checkSettings
  const settings = yield* ExecutorConfig
  const api = yield* Endpoints
  const basePath = new URL(address).pathname.replace(/\/+$/, "")
  const { handle, sweep } = yield* Server.makeHandler
  // Bodies that take too long are answered by a sweep, as on the executor's own server.
  yield* Effect.acquireRelease(
    Effect.sync(() => setInterval(sweep, 1000).unref()),
    (timer) => Effect.sync(() => clearInterval(timer))
  )
  const runPromise = Runtime.runPromise(yield* Effect.runtime<never>())

  const node: Handlers["node"] = (request, response, next) => {
    const route = routeUnder(basePath, request.url ?? "")
    if (route !== undefined) return handle(request, response, route, Server.alreadyRead(request))
    if (next !== undefined) return next()
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" })
    response.end("not found\n")
  }

  const web: Handlers["web"] = async (request) => {
    const url = new URL(request.url)
    const route = routeUnder(basePath, url.pathname + url.search)
    if (route === undefined) return new Response("not found\n", { status: 404 })
    if (settings.metrics === "on" && Server.isMetricsRoute(request.method, route)) {
      return new Response(await runPromise(api.metrics), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" }
      })
    }
    let body: string | "too-large" = ""
    if (request.method === "POST") {
      const declared = Number(request.headers.get("content-length") ?? "0")
      if (declared > settings.maxBodyBytes) {
        body = "too-large"
      } else {
        const bytes = await request.arrayBuffer()
        body = bytes.byteLength > settings.maxBodyBytes ? "too-large" : utf8.decode(bytes)
      }
    }
    const headers: Record<string, string> = {}
    request.headers.forEach((value, name) => headers[name] = value)
    const reply = await runPromise(api.handle({ method: request.method, url: route, headers, body }))
    return new Response(JSON.stringify(reply), { headers: { "content-type": "application/json;charset=UTF-8" } })
  }

  return { node, web, basePath } satisfies Handlers
})

/** @internal */
export const layer: Layer.Layer<Mount, ExecutorConfigError, Endpoints | ExecutorConfig> = Layer.scoped(
  Mount,
  make
)
