/**
 * The executor's HTTP server: every request is read (body capped at `maxBodyBytes`), answered by the
 * endpoints (`endpoints.ts`), and written back as HTTP 200 with the protocol's JSON, whatever went wrong. Besides,
 * `GET /metrics` answers Prometheus text, here or on a port of its own (`metrics`), and the health probes
 * (`GET /health`, `GET /ready`: `probes.ts`) answer where metrics do, or here when metrics are off.
 *
 * Served by `node:http` directly: the executor has five fixed endpoints and answers each from one small
 * Effect, and a trigger's path through the server is the hot path of the whole executor (see `bench/`).
 * A general HTTP framework's per-request fiber, scope and span cost more than the rest of a `/run` together.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import type * as Http from "node:http"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { ExecutorConfig, type ExecutorConfigError } from "../ExecutorConfig.js"
import * as Wire from "../Wire.js"
import { type Answer, Endpoints, isLater } from "./endpoints.js"
import * as Messages from "./messages.js"
import * as Probes from "./probes.js"
import * as StartupChecks from "./startupChecks.js"

/**
 * The listening server.
 *
 * @internal
 */
export interface Service {
  /** The port it listens on (the one the system chose when the configured port is 0). */
  readonly port: number
  /** The metrics server's port, when metrics have a port of their own. */
  readonly metricsPort: number | undefined
}

/** @internal */
export class Server extends Context.Tag("effect-xxl-job/internal/Server")<Server, Service>() {}

/** A body being read, for the sweep that answers bodies that take too long. */
interface Reading {
  readonly startedAt: number
  readonly timedOut: () => void
}

/**
 * Reads a request body as UTF-8 text (invalid bytes become U+FFFD, as Java decodes), `"too-large"` past
 * `limit` bytes, or `"too-slow"` when the sweep finds it unfinished after the timeout; in those two cases
 * the rest is not read and the connection is closed after the answer.
 */
const readBody = (
  request: Http.IncomingMessage,
  limit: number,
  reading: Set<Reading>,
  done: (body: string | "too-large" | "too-slow") => void
): void => {
  const declared = Number(request.headers["content-length"] ?? "0")
  if (declared > limit) return done("too-large")
  const chunks: Array<Buffer> = []
  let size = 0
  const finish = (body: string | "too-large" | "too-slow") => {
    reading.delete(entry)
    request.off("data", onData)
    request.off("end", onEnd)
    request.off("error", onError)
    done(body)
  }
  const entry: Reading = {
    startedAt: Date.now(),
    timedOut: () => {
      request.pause()
      finish("too-slow")
    }
  }
  const onData = (chunk: Buffer) => {
    size += chunk.length
    if (size > limit) {
      request.pause()
      finish("too-large")
    } else {
      chunks.push(chunk)
    }
  }
  const onEnd = () => finish(chunks.length === 1 ? decodeUtf8(chunks[0]) : decodeUtf8(Buffer.concat(chunks, size)))
  // A request that errors (the client went away) is not answered: there is nobody to answer.
  const onError = () => {
    reading.delete(entry)
    request.off("data", onData)
    request.off("end", onEnd)
  }
  reading.add(entry)
  request.on("data", onData)
  request.on("end", onEnd)
  request.on("error", onError)
}

const utf8 = new TextDecoder("utf-8")
const decodeUtf8 = (bytes: Buffer) => utf8.decode(bytes)

/** `GET /metrics`, with or without a query string (scrapers may add one). */
export const isMetricsRoute = (method: string | undefined, route: string | undefined) =>
  method === "GET" && (route === "/metrics" || route?.startsWith("/metrics?") === true)

const isMetricsRequest = (request: Http.IncomingMessage) => isMetricsRoute(request.method, request.url)

/**
 * A body a framework has already read (Express's `express.json()`, say): the request's stream is spent, and
 * `request.body` holds it, as text, bytes or parsed JSON. Only a mounted executor meets one.
 *
 * @internal
 */
export const alreadyRead = (request: Http.IncomingMessage): string | undefined => {
  const body = (request as { body?: unknown }).body
  if (!request.readableEnded || body === undefined) return undefined
  if (typeof body === "string") return body
  if (Buffer.isBuffer(body)) return decodeUtf8(body)
  return JSON.stringify(body)
}

const respond = (response: Http.ServerResponse, reply: Wire.Reply, close: boolean) => {
  if (response.destroyed) return
  const text = JSON.stringify(reply)
  const headers: Http.OutgoingHttpHeaders = {
    "content-type": "application/json;charset=UTF-8",
    "content-length": Buffer.byteLength(text, "utf8")
  }
  if (close) headers.connection = "close"
  response.writeHead(200, headers)
  response.end(text)
}

/**
 * The request handler: any method, any path, always HTTP 200 with a protocol reply.
 *
 * @internal
 */
export const makeHandler = Effect.gen(function*() {
  const api = yield* Endpoints
  const settings = yield* ExecutorConfig
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())
  const timeoutMs = Duration.toMillis(settings.requestTimeout)
  const reading = new Set<Reading>()
  const unreadable = Wire.failure(Messages.requestError("the request could not be read"))
  const probes = Probes.make(api.accepting)

  const answer = (
    request: Http.IncomingMessage,
    response: Http.ServerResponse,
    route: string,
    body: string | "too-large"
  ) => {
    let now: Answer
    try {
      now = api.handleNow({ method: request.method ?? "", url: route, headers: request.headers, body })
    } catch {
      return respond(response, unreadable, true)
    }
    // Most answers are ready at once or come through a callback (a trigger's, once it is recorded); the rest
    // run in a fiber.
    if (isLater(now)) return now.then((reply) => respond(response, reply, body === "too-large"))
    if (!Effect.isEffect(now)) return respond(response, now, body === "too-large")
    runFork(now).addObserver((exit) =>
      respond(response, Exit.isSuccess(exit) ? exit.value : unreadable, body === "too-large" || Exit.isFailure(exit))
    )
  }

  const serveMetrics = (response: Http.ServerResponse) =>
    runFork(api.metrics).addObserver((exit) => {
      if (response.destroyed) return
      const text = Exit.isSuccess(exit) ? exit.value : "# the metrics could not be read\n"
      response.writeHead(Exit.isSuccess(exit) ? 200 : 500, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
        "content-length": Buffer.byteLength(text, "utf8")
      })
      response.end(text)
    })

  /** The metrics server's handler, when metrics have a port of their own: `GET /metrics` and the probes, else 404. */
  const metricsHandler = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
    if (isMetricsRequest(request)) {
      return serveMetrics(response)
    }
    const probe = Probes.probeOf(request.method, request.url ?? "")
    if (probe !== undefined) return probes.answer(probe, response)
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" })
    response.end("only GET /metrics, /health and /ready here\n")
  }

  /**
   * Answers a request. `route` is the request target the executor routes on: the URL itself, or what is left
   * of it under the path the executor is mounted at; `body`, one a framework has already read (see
   * `alreadyRead`), else the request's is read here.
   */
  const handle = (
    request: Http.IncomingMessage,
    response: Http.ServerResponse,
    route = request.url ?? "",
    body?: string | undefined
  ) => {
    if (settings.metrics === "on" && isMetricsRoute(request.method, route)) {
      return serveMetrics(response)
    }
    if (request.method !== "POST") return answer(request, response, route, "")
    if (body !== undefined) {
      return answer(
        request,
        response,
        route,
        Buffer.byteLength(body, "utf8") > settings.maxBodyBytes ? "too-large" : body
      )
    }
    readBody(request, settings.maxBodyBytes, reading, (body) => {
      if (body === "too-slow") {
        return respond(response, Wire.failure(Messages.bodyTooSlow(Duration.format(settings.requestTimeout))), true)
      }
      answer(request, response, route, body)
    })
  }
  // The probes are on the executor's own server (not where it is mounted: the host app has probes of its own),
  // unless metrics have a port of their own; the admin only POSTs, so a GET is never its.
  const probesHere = typeof settings.metrics !== "number"
  const handler = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
    if (probesHere && request.method === "GET") {
      const probe = Probes.probeOf(request.method, request.url ?? "")
      if (probe !== undefined) return probes.answer(probe, response)
    }
    handle(request, response)
  }

  // One sweep a second finds the bodies past their time: cheaper than a timer per request.
  const sweep = () => {
    const limit = Date.now() - timeoutMs
    for (const entry of reading) if (entry.startedAt <= limit) entry.timedOut()
  }
  return { handle, handler, metricsHandler, sweep }
})

/**
 * Listens, and gives the port bound; a port in use (or one this user may not bind, or a host that is not this
 * machine's) fails as the setting to change, in one line.
 */
const listen = (server: Http.Server, key: "port" | "metrics", port: number, host: string) =>
  Effect.async<number, ExecutorConfigError>((resume) => {
    const onError = (cause: Error) => resume(Effect.fail(StartupChecks.listenError(cause, key, port, host)))
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      resume(Effect.succeed((server.address() as AddressInfo).port))
    })
  })

/**
 * A Node server with the executor's limits: headers must arrive within the request timeout (Node answers 408
 * and closes otherwise; the body has its own timer, answered in the protocol), whole requests within twice
 * it, and idle keep-alive connections close after 90 s as Java's do.
 */
const serverFor = (requestTimeout: Duration.Duration) => {
  const timeoutMs = Duration.toMillis(requestTimeout)
  return createServer({
    keepAliveTimeout: 90_000,
    headersTimeout: timeoutMs,
    requestTimeout: 2 * timeoutMs,
    // Node checks those timeouts on this interval (30 s by default, which would stretch them).
    connectionsCheckingInterval: 1000
  })
}

/**
 * Serves the endpoints on the configured host and port; closing the layer stops listening and closes the
 * connections.
 *
 * @internal
 */
export const layer: Layer.Layer<Server, ExecutorConfigError, Endpoints | ExecutorConfig> = Layer.scoped(
  Server,
  Effect.gen(function*() {
    const settings = yield* ExecutorConfig
    const { handler, metricsHandler, sweep } = yield* makeHandler
    const server = serverFor(settings.requestTimeout)
    server.on("request", handler)
    const sweeper = setInterval(sweep, 1000)
    sweeper.unref()
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        clearInterval(sweeper)
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
    )
    const port = yield* listen(server, "port", settings.port, settings.host)
    if (typeof settings.metrics !== "number") return { port, metricsPort: undefined }
    const metricsServer = createServer(metricsHandler)
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        metricsServer.close(() => resume(Effect.void))
        metricsServer.closeAllConnections()
      })
    )
    return { port, metricsPort: yield* listen(metricsServer, "metrics", settings.metrics, settings.host) }
  })
)
