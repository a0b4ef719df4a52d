/**
 * The executor's five endpoints as the admin sees them, independent of any HTTP library: a request (method,
 * raw target, headers, body text) in, the protocol's reply out. The HTTP server (`Server`) and the in-process
 * mock admin both go through here, so they answer byte for byte alike.
 *
 * Order of checks, as in Java: method, then token, then the exact raw target (a query string does not
 * match), then the body.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import { ExecutorConfig } from "../ExecutorConfig.js"
import * as Wire from "../Wire.js"
import { type Admission, Lanes } from "./lanes.js"
import * as Messages from "./messages.js"
import * as Metrics from "./metrics.js"
import { Outbox } from "./outbox.js"
import { RunLogs } from "./runLogs.js"
import { isTracing } from "./tracing.js"
import { decodeTrigger, describeParseError } from "./wireCodecs.js"

/**
 * A request as the endpoints need it. `body` is the decoded text, or `"too-large"` when it exceeded the
 * limit and was not read.
 *
 * @internal
 */
export interface Request {
  readonly method: string
  /** The raw request target, query string included (Java routes on it verbatim). */
  readonly url: string
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: string | "too-large"
}

/**
 * A reply that comes through a plain callback: an accepted trigger's, once the trigger is recorded (so that a
 * crash after the admin saw it accepted cannot lose it), with no fiber on the hot path.
 *
 * @internal
 */
export interface Later {
  readonly _tag: "Later"
  readonly then: (respond: (reply: Wire.Reply) => void) => void
}

/** An answer: ready now, an Effect that makes it, or one that comes `Later`. @internal */
export type Answer = Wire.Reply | Effect.Effect<Wire.Reply> | Later

/** Whether an answer comes later. @internal */
export const isLater = (answer: Answer): answer is Later => (answer as { _tag?: unknown })._tag === "Later"

/** @internal */
export interface Service {
  readonly handle: (request: Request) => Effect.Effect<Wire.Reply>
  /**
   * `handle`, answering at once where it can (every refusal, `/beat`), later through a callback (`/run` when
   * there is no tracer), else with the Effect that makes it. The HTTP server runs a fiber only for the last.
   */
  readonly handleNow: (request: Request) => Answer
  /** Every metric as Prometheus text, the gauges read now (`GET /metrics`). */
  readonly metrics: Effect.Effect<string>
  /** False once the executor refuses triggers for shutting down (`GET /ready`). */
  readonly accepting: () => boolean
}

/** @internal */
export class Endpoints extends Context.Tag("effect-xxl-job/internal/Endpoints")<Endpoints, Service>() {}

const digest = (text: string) => Crypto.createHash("sha256").update(text, "utf8").digest()

/** Compares in time independent of where the strings differ (hashing first also hides the length). */
const sameSecret = (expected: Buffer, given: string) => Crypto.timingSafeEqual(expected, digest(given))

const headerValue = (headers: Request["headers"], name: string): string | undefined => {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value as string | undefined
}

const blank = /^\s*$/

/** Parses a body as a JSON object; anything else is Java's `request error:`. */
const jsonObject = (body: string): Either.Either<unknown, string> => {
  // A test, not `trim()`: that would copy every body to find the few empty ones.
  if (blank.test(body)) return Either.left("empty request body; a JSON object was expected")
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch (error) {
    return Either.left(`the body is not valid JSON (${(error as Error).message})`)
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return Either.left(
      `a JSON object was expected, got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`
    )
  }
  return Either.right(value)
}

/** A body decoder: parsed JSON in, the value or what is wrong with it out. */
type Decoder<A> = (json: unknown) => Either.Either<A, string>

const withSchema = <A, I>(schema: Schema.Schema<A, I>): Decoder<A> => {
  const decode = Schema.decodeUnknownEither(schema)
  return (json) => Either.mapLeft(decode(json), describeParseError)
}

const decodeJobId = withSchema(Wire.JobIdParam)
const decodeLog = withSchema(Wire.LogParam)

const asEffect = (answer: Answer): Effect.Effect<Wire.Reply> =>
  Effect.isEffect(answer)
    ? answer
    : isLater(answer)
    ? Effect.async((resume) => answer.then((reply) => resume(Effect.succeed(reply))))
    : Effect.succeed(answer)

/** @internal */
export const make = Effect.gen(function*() {
  const settings = yield* ExecutorConfig
  const lanes = yield* Lanes
  const runLogs = yield* RunLogs
  const outbox = yield* Outbox
  const token = Redacted.value(settings.accessToken)
  const tokenDigest = token === "" ? undefined : digest(token)
  const appNameDigest = digest(settings.appName)

  /** Undefined when the caller may proceed, else the refusal. */
  const authorize = (headers: Request["headers"]): string | undefined => {
    const givenToken = headerValue(headers, "xxl-job-access-token")
    if (settings.protocol === "3.5") {
      const givenApp = headerValue(headers, "xxl-job-appname")
      if (tokenDigest === undefined) return undefined
      if (!givenToken || !givenApp) return Messages.tokenOrAppnameEmpty
      const ok = sameSecret(tokenDigest, givenToken) && sameSecret(appNameDigest, givenApp)
      return ok ? undefined : Messages.tokenOrAppnameInvalid
    }
    if (tokenDigest === undefined) return undefined
    return givenToken !== undefined && sameSecret(tokenDigest, givenToken) ? undefined : Messages.accessTokenWrong
  }

  const withBody = <A>(decode: Decoder<A>, body: string, use: (value: A) => Answer): Answer => {
    const decoded = Either.flatMap(jsonObject(body), decode)
    return Either.isLeft(decoded) ? Wire.failure(Messages.requestError(decoded.left)) : use(decoded.right)
  }

  const tracing = yield* isTracing

  /** An accepted trigger's answer: success, once the outbox has recorded the trigger. */
  const onceRecorded = (param: Wire.TriggerParam): Later => {
    let recorded = false
    let respond: ((reply: Wire.Reply) => void) | undefined
    outbox.admit(param, () => {
      recorded = true
      respond?.(Wire.success())
      lanes.answered(param)
    })
    return { _tag: "Later", then: (k) => recorded ? k(Wire.success()) : respond = k }
  }
  const answerTo = (param: Wire.TriggerParam, admission: Admission): Answer =>
    admission._tag === "Accepted" ? onceRecorded(param) : Wire.failure(admission.reason)

  const run = (param: Wire.TriggerParam): Answer =>
    // Without a tracer the admission is one synchronous step, and its answer a callback: no fiber needed.
    !tracing ? answerTo(param, lanes.admit(param)) : lanes.admitTraced(param).pipe(
      Effect.flatMap((admission) => asEffect(answerTo(param, admission))),
      // With a tracer, the trigger's own span: the run's span links to it.
      Effect.tap((reply) => Effect.annotateCurrentSpan({ "xxl.trigger.code": reply.code })),
      Effect.withSpan("xxl-job.trigger", {
        kind: "server",
        attributes: { "xxl.job.id": param.jobId, "xxl.log.id": param.logId, "xxl.job.handler": param.executorHandler }
      })
    )

  const handleNow = (request: Request): Answer => {
    if (request.method.toUpperCase() !== "POST") return Wire.failure(Messages.methodNotSupported)
    if (request.url.trim() === "") return Wire.failure(Messages.uriMappingEmpty)
    const refusal = authorize(request.headers)
    if (refusal !== undefined) return Wire.failure(refusal)
    const { body, url } = request
    const known = url === "/beat" || url === "/idleBeat" || url === "/run" || url === "/trigger" || url === "/kill" ||
      url === "/log"
    if (!known) return Wire.failure(Messages.uriMappingNotFound(url))
    if (body === "too-large") return Wire.failure(Messages.bodyTooLarge(settings.maxBodyBytes))
    switch (url) {
      case "/beat":
        return Wire.success()
      case "/idleBeat":
        return withBody(
          decodeJobId,
          body,
          ({ jobId }) => lanes.isIdle(jobId) ? Wire.success() : Wire.failure(Messages.jobBusy)
        )
      case "/run":
      case "/trigger":
        return withBody(decodeTrigger, body, run)
      case "/kill":
        return withBody(decodeJobId, body, ({ jobId }) =>
          lanes.kill(jobId)
            ? Wire.success()
            : Wire.reply(Wire.Code.success, Messages.alreadyKilled, Messages.alreadyKilled))
      default:
        return withBody(
          decodeLog,
          body,
          (param) =>
            runLogs.read({ logId: param.logId, logDateTime: param.triggerTime }, param.fromLineNum).pipe(
              Effect.match({
                onSuccess: (page) =>
                  Wire.success({
                    fromLineNum: page.fromLineNum,
                    toLineNum: page.toLineNum,
                    logContent: page.logContent,
                    isEnd: page.isEnd
                  }),
                // The admin's log view keeps asking; the message says why there is no page meanwhile.
                onFailure: (error) => Wire.failure(Messages.logUnreadable(error.reason))
              })
            )
        )
    }
  }

  const handle = (request: Request): Effect.Effect<Wire.Reply> => Effect.suspend(() => asEffect(handleNow(request)))

  const metrics = Metrics.scrape(
    Effect.zipWith(lanes.stats, outbox.backlog, (stats, backlog) => ({
      running: stats.running,
      queued: stats.queued,
      backlog
    }))
  )

  return { handle, handleNow, metrics, accepting: lanes.accepting } satisfies Service
})

/** @internal */
export const layer: Layer.Layer<Endpoints, never, ExecutorConfig | Lanes | RunLogs | Outbox> = Layer.effect(
  Endpoints,
  make
)
