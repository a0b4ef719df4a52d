/**
 * The executor's HTTP server: every request is read (body capped at `maxBodyBytes`), answered by
 * `ExecutorApi`, and written back as HTTP 200 with the protocol's JSON, whatever went wrong. Built on
 * `@effect/platform`'s HttpServer, served by `@effect/platform-node`.
 *
 * @since 1.0.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Http from "node:http"
import { createServer } from "node:http"
import { ExecutorApi } from "./ExecutorApi.js"
import { ExecutorConfig } from "./ExecutorConfig.js"
import * as Messages from "./Messages.js"
import * as Wire from "./Wire.js"

/**
 * Reads a request body as UTF-8 text (invalid bytes become U+FFFD, as Java decodes), `"too-large"` past
 * `limit` bytes, or `"too-slow"` when it has not all arrived within `timeoutMs`; in those two cases the rest
 * is not read and the connection is closed after the answer.
 */
const readBody = (
  request: Http.IncomingMessage,
  limit: number,
  timeoutMs: number
): Effect.Effect<string | "too-large" | "too-slow", Error> =>
  Effect.async<string | "too-large" | "too-slow", Error>((resume) => {
    const declared = Number(request.headers["content-length"] ?? "0")
    if (declared > limit) return resume(Effect.succeed("too-large"))
    const chunks: Array<Buffer> = []
    let size = 0
    const timer = setTimeout(() => {
      cleanup()
      request.pause()
      resume(Effect.succeed("too-slow"))
    }, timeoutMs)
    const cleanup = () => {
      clearTimeout(timer)
      request.off("data", onData)
      request.off("end", onEnd)
      request.off("error", onError)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        request.pause()
        resume(Effect.succeed("too-large"))
      } else {
        chunks.push(chunk)
      }
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(new TextDecoder("utf-8").decode(Buffer.concat(chunks, size))))
    }
    const onError = (error: Error) => {
      cleanup()
      resume(Effect.fail(error))
    }
    request.on("data", onData)
    request.on("end", onEnd)
    request.on("error", onError)
    return Effect.sync(cleanup)
  })

const respond = (reply: Wire.Reply, close: boolean) =>
  HttpServerResponse.text(JSON.stringify(reply), {
    status: 200,
    contentType: "application/json;charset=UTF-8",
    headers: close ? { connection: "close" } : {}
  })

/**
 * The HTTP app: any method, any path, always HTTP 200 with a protocol reply.
 *
 * @since 1.0.0
 * @category constructors
 */
export const app = Effect.gen(function*() {
  const api = yield* ExecutorApi
  const settings = yield* ExecutorConfig
  const timeoutMs = Duration.toMillis(settings.requestTimeout)
  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const incoming = NodeHttpServerRequest.toIncomingMessage(request)
    const body = request.method === "POST" ? yield* readBody(incoming, settings.maxBodyBytes, timeoutMs) : ""
    if (body === "too-slow") {
      return respond(Wire.failure(Messages.bodyTooSlow(Duration.format(settings.requestTimeout))), true)
    }
    const reply = yield* api.handle({
      method: request.method,
      url: incoming.url ?? request.url,
      headers: incoming.headers,
      body
    })
    return respond(reply, body === "too-large")
  }).pipe(
    Effect.catchAllCause(() =>
      Effect.succeed(respond(Wire.failure(Messages.requestError("the request could not be read")), true))
    )
  )
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
 * Serves the endpoints on the configured host and port.
 *
 * @since 1.0.0
 * @category layers
 */
export const layer: Layer.Layer<HttpServer.HttpServer, ServeError, ExecutorApi | ExecutorConfig> = Layer.unwrapScoped(
  Effect.gen(function*() {
    const settings = yield* ExecutorConfig
    const serve = Layer.unwrapEffect(Effect.map(app, (httpApp) => HttpServer.serve(httpApp)))
    return serve.pipe(
      Layer.provideMerge(NodeHttpServer.layerServer(() => serverFor(settings.requestTimeout), {
        port: settings.port,
        host: settings.host
      }))
    )
  })
)
