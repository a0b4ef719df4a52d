/**
 * The executor inside a server you already run, for teams that cannot open another port: its endpoints as a
 * Node request handler (plain `node:http`, Express, Connect and what builds on them) and as a web handler
 * (`Request` in, `Response` out: Hono, Next.js route handlers, Bun, Deno).
 *
 * The endpoints live under the path of the address registered with the admin (`XXL_JOB_EXECUTOR_ADDRESS`,
 * required here: the executor cannot know where the host server is reachable). With
 * `http://10.0.0.5:3000/xxl-job/`, the admin posts to `/xxl-job/run`, `/xxl-job/beat`…; other paths are
 * passed on (`next()`) or answered 404. They answer exactly as the executor's own server does.
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import type * as Http from "node:http"
import { ExecutorConfig, ExecutorConfigError } from "./ExecutorConfig.js"
import { ExecutorApi } from "./internal/endpoints.js"
import * as Server from "./internal/server.js"

/**
 * @since 1.0.0
 * @category models
 */
export interface Handlers {
  /**
   * A Node request handler and Connect/Express middleware: requests under `basePath` are answered, others go
   * to `next` (or get a 404 without one). Mount it before any body parser; a body already parsed into
   * `request.body` is taken from there.
   */
  readonly node: (
    request: Http.IncomingMessage,
    response: Http.ServerResponse,
    next?: (error?: unknown) => void
  ) => void
  /** A web handler: the answer for a request under `basePath`, a 404 for any other. */
  readonly web: (request: Request) => Promise<Response>
  /** The path the endpoints live under, from the registered address (`""` for the root). */
  readonly basePath: string
}

/**
 * @since 1.0.0
 * @category tags
 */
export class Mount extends Context.Tag("effect-xxl-job/Mount")<Mount, Handlers>() {}

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
 * The handlers, for the executor's endpoints and settings.
 *
 * @since 1.0.0
 * @category constructors
 */
export const make = Effect.gen(function*() {
  const settings = yield* ExecutorConfig
  const api = yield* ExecutorApi
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
  const basePath = new URL(settings.address).pathname.replace(/\/+$/, "")
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

/**
 * @since 1.0.0
 * @category layers
 */
export const layer: Layer.Layer<Mount, ExecutorConfigError, ExecutorApi | ExecutorConfig> = Layer.scoped(
  Mount,
  make
)
