/**
 * How the admin client's POSTs reach an admin: Node's own client straight to it, or undici through a proxy;
 * each attempt bounded by a timer and judged into an `AdminProblem`; the admins tried in order. Plain
 * callbacks throughout, so that a callback batch costs no fiber; `AdminClient.make` wraps them as Effects.
 *
 * The outbox's hot path reaches the plain form through `plainCallbackOf`: it is kept here, by the service
 * object it belongs to, so that the public service carries only Effects.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Undici from "undici"
import type { AdminAttempt, AdminError, AdminProblem, Operation, Service } from "../AdminClient.js"
import type { Settings } from "../ExecutorConfig.js"
import { AdminReply, type CallbackItem } from "../Wire.js"

// Built here too (AdminClient imports this module): the same plain tagged values as `AdminClient.AdminProblem`.
const Problem = Data.taggedEnum<AdminProblem>()

// ---------------------------------------------------------------------------------------------------------
// The plain callback form, private to the engine
// ---------------------------------------------------------------------------------------------------------

/**
 * `callback` as a plain call, for the outbox's hot path: `done` is called once, never before the call
 * returns, with undefined when an admin took the results, else with the error; what it returns aborts the
 * call, and `done` is then never called. It never throws.
 *
 * @internal
 */
export type PlainCallback = (
  items: ReadonlyArray<CallbackItem>,
  done: (error: AdminError | undefined) => void
) => () => void

const plainCallbacks = new WeakMap<Service, PlainCallback>()

/**
 * Gives `service` a plain callback form (the outbox uses it when not tracing); returns `service`.
 *
 * @internal
 */
export const withPlainCallback = <S extends Service>(service: S, plain: PlainCallback): S => {
  plainCallbacks.set(service, plain)
  return service
}

/**
 * The plain callback form of `service`, if it has one: clients made by `AdminClient.make` do, anyone else's
 * (a test double, a user's own client) do not.
 *
 * @internal
 */
export const plainCallbackOf = (service: Service): PlainCallback | undefined => plainCallbacks.get(service)

// ---------------------------------------------------------------------------------------------------------
// Judging an answer
// ---------------------------------------------------------------------------------------------------------

const decodeReply = Schema.decodeUnknownEither(AdminReply)

/**
 * A body's start on one line, as attempts carry it.
 *
 * @internal
 */
export const snippet = (text: string) => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > 120 ? flat.slice(0, 120) + "…" : flat
}

/**
 * Why an admin's answer is not a success, or undefined when it is.
 *
 * @internal
 */
export const judge = (status: number, body: string): AdminProblem | undefined => {
  if (status !== 200) return Problem.HttpStatus({ status, snippet: snippet(body) })
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    return Problem.NotProtocol({ kind: /^\s*</.test(body) ? "html" : "notJson", snippet: snippet(body) })
  }
  // The usual answer, `{"code":200,…}`, needs no Schema (decoding showed in the profile under load).
  if (typeof json === "object" && json !== null && (json as { code?: unknown }).code === 200) return undefined
  const reply = decodeReply(json)
  if (reply._tag === "Left") return Problem.NotProtocol({ kind: "jsonWithoutCode", snippet: snippet(body) })
  return reply.right.code === 200 ? undefined : Problem.Refused({ code: reply.right.code, msg: reply.right.msg })
}

// ---------------------------------------------------------------------------------------------------------
// Transports
// ---------------------------------------------------------------------------------------------------------

/** What an admin answered: the HTTP status and the body. */
interface Answer {
  readonly status: number
  readonly text: string
}

/**
 * How POSTs reach the admin. `post` sends one and calls `done` once, with the answer or why there is none;
 * what it returns aborts it.
 */
interface Transport {
  readonly post: (url: string, body: string, done: (answer: Answer | Error) => void) => () => void
  readonly close: () => Promise<void>
}

/** What every request to one URL shares, made once: Node would read a URL object into options per request. */
interface Route {
  readonly secure: boolean
  readonly options: Http.RequestOptions
  /**
   * The fixed headers as a flat list, which Node writes as they are (an object's are checked and copied one
   * by one per request). Node adds no Host to a list: it is here, as are the URL's credentials, if any.
   */
  readonly headers: ReadonlyArray<string>
}

const routeOf = (
  url: string,
  headers: Record<string, string>,
  agents: { readonly http: Http.Agent; readonly https: Https.Agent }
): Route => {
  const target = new URL(url)
  const secure = target.protocol === "https:"
  const credentials = target.username === "" && target.password === ""
    ? []
    : [
      "authorization",
      `Basic ${
        Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString("base64")
      }`
    ]
  return {
    secure,
    options: {
      agent: secure ? agents.https : agents.http,
      method: "POST",
      // An IPv6 address without its brackets, as the socket wants it.
      hostname: target.hostname.replace(/^\[(.*)\]$/, "$1"),
      ...(target.port === "" ? {} : { port: Number(target.port) }),
      path: `${target.pathname}${target.search}`
    },
    headers: ["host", target.host, ...Object.entries(headers).flat(), ...credentials]
  }
}

/**
 * Straight to the admin, over Node's own client with a small pool of keep-alive connections per admin.
 * Measured under the bench's load, it cost the event loop about half of what undici did per callback
 * request (and undici about a third of what `@effect/platform`'s HttpClient did: spans, scopes and streams).
 */
const direct = (headers: Record<string, string>): Transport => {
  // An idle connection is closed after a few seconds, as undici closes them, before the admin's server is
  // likely to close it: a POST on a connection the server is closing fails, and a failed callback waits for
  // its retry. (The timeout applies to idle connections only: a request in flight is bounded by
  // `adminTimeout`.)
  const options = { keepAlive: true, maxSockets: 8, timeout: 4000 }
  const agents = { http: new Http.Agent(options), https: new Https.Agent(options) }
  // A few URLs (three per admin), each read once into what its requests share.
  const routes = new Map<string, Route>()
  return {
    post: (url, body, done) => {
      let route = routes.get(url)
      if (route === undefined) routes.set(url, route = routeOf(url, headers, agents))
      const request = (route.secure ? Https : Http).request({
        ...route.options,
        headers: [...route.headers, "content-length", String(Buffer.byteLength(body, "utf8"))]
      }, (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => text += chunk)
        response.on("end", () => done({ status: response.statusCode ?? 0, text }))
        response.on("error", done)
      })
      request.on("error", done)
      request.end(body)
      return () => request.destroy()
    },
    close: async () => {
      agents.http.destroy()
      agents.https.destroy()
    }
  }
}

const proxyVariables = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"]

/** A proxy variable by its lower-case name, else its upper-case one; an empty one counts as unset. */
const variable = (lower: string, upper: string): string => process.env[lower] || process.env[upper] || ""

/**
 * Through the proxy that `HTTP_PROXY` / `HTTPS_PROXY` name, except to the hosts `NO_PROXY` lists (as curl and
 * pyxxl read them; read when the client is made), over undici. Plain-HTTP admins as curl does (the request in
 * absolute form), not by a CONNECT tunnel: proxies commonly allow CONNECT to port 443 only. HTTPS admins are
 * tunnelled.
 */
const proxied = (headers: Record<string, string>): Transport => {
  const dispatcher = new Undici.EnvHttpProxyAgent({
    connections: 8,
    proxyTunnel: false,
    // All three read now (undici would re-read NO_PROXY at every request, but not the others), and an
    // empty one counts as unset, as it does for choosing this transport: undici alone would let an empty
    // lower-case name hide a set upper-case one.
    httpProxy: variable("http_proxy", "HTTP_PROXY"),
    httpsProxy: variable("https_proxy", "HTTPS_PROXY"),
    noProxy: variable("no_proxy", "NO_PROXY")
  })
  return {
    post: (url, body, done) => {
      const controller = new AbortController()
      Undici.request(url, { dispatcher, method: "POST", headers, body, signal: controller.signal })
        .then((response) => response.body.text().then((text) => done({ status: response.statusCode, text })))
        .catch(done)
      return () => controller.abort()
    },
    close: () => dispatcher.close()
  }
}

// ---------------------------------------------------------------------------------------------------------
// Posting to the admins in turn
// ---------------------------------------------------------------------------------------------------------

/**
 * Posts to the admins: `post(operation, body, done)` tries each in order until one answers code 200; `done`
 * gets undefined then, else what each admin answered (none when no admin is configured), never before `post`
 * returns. What `post` returns aborts the attempt under way, and `done` is then not called.
 *
 * @internal
 */
export interface Poster {
  readonly post: (
    operation: Operation,
    body: string,
    done: (attempts: ReadonlyArray<AdminAttempt> | undefined) => void
  ) => () => void
  readonly close: () => Promise<void>
}

/**
 * A poster for `settings`: straight to the admin, or through a proxy when the environment names one (see
 * `direct` and `proxied`). Close it to let go of its connections.
 *
 * @internal
 */
export const makePoster = (settings: Settings): Poster => {
  const headers: Record<string, string> = {
    "content-type": "application/json;charset=UTF-8",
    "XXL-JOB-ACCESS-TOKEN": Redacted.value(settings.accessToken)
  }
  if (settings.protocol === "3.5") headers["XXL-JOB-APPNAME"] = settings.appName
  const transport = proxyVariables.some((name) => (process.env[name] ?? "") !== "")
    ? proxied(headers)
    : direct(headers)
  const bases = settings.adminAddresses.map((address) => address.replace(/\/+$/, ""))

  const timeoutMillis = Duration.toMillis(settings.adminTimeout)
  const noAnswer = Problem.NoAnswer({ timeout: settings.adminTimeout })

  /**
   * One POST: `settle` gets undefined when the admin took it, else what went wrong, within `adminTimeout` (the
   * answer included), never before this returns; what it returns aborts it, and `settle` is then not called. The bound is a timer, not
   * `Effect.timeout`, which races two fibers and a sleep per request: under load, with many small callback
   * batches, those were among the largest shares of what outlived the young generation (a sampling heap
   * profile of the survivors), and without them ~20% fewer bytes were promoted per scavenge (`--trace-gc-nvp`).
   */
  const postOne = (url: string, body: string, settle: (problem: AdminProblem | undefined) => void): () => void => {
    let settled = false
    const finish = (problem: AdminProblem | undefined) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      settle(problem)
    }
    const timer = setTimeout(() => {
      finish(noAnswer)
      abort()
    }, timeoutMillis)
    let abort = () => {}
    try {
      abort = transport.post(
        url,
        body,
        (answer) =>
          finish(answer instanceof Error ? Problem.Unreachable({ cause: answer }) : judge(answer.status, answer.text))
      )
    } catch (error) {
      // Node refuses some requests at once (a header it will not send, say): a failed attempt like any other,
      // answered later like the others.
      queueMicrotask(() => finish(Problem.NotSent({ cause: error })))
    }
    return () => {
      settled = true
      clearTimeout(timer)
      abort()
    }
  }

  const post: Poster["post"] = (operation, body, done) => {
    const attempts: Array<AdminAttempt> = []
    let aborted = false
    let abortAttempt = () => {}
    const attempt = (index: number) => {
      if (index === bases.length) return done(attempts)
      const url = `${bases[index]}/api/${operation}`
      abortAttempt = postOne(url, body, (problem) => {
        if (aborted) return
        if (problem === undefined) return done(undefined)
        attempts.push({ url, problem })
        attempt(index + 1)
      })
    }
    // With no admin at all, the error too comes after this returns.
    if (bases.length > 0) attempt(0)
    else {
      queueMicrotask(() => {
        if (!aborted) attempt(0)
      })
    }
    return () => {
      aborted = true
      abortAttempt()
    }
  }

  return { post, close: transport.close }
}
