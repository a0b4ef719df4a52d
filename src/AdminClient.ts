/**
 * The admin's three endpoints as the executor calls them: `api/registry`, `api/registryRemove` and
 * `api/callback`. Several admin addresses are tried in order until one answers code 200; every request
 * carries the access token header (empty when unset: admin 3.3.0 and 3.3.1 require the header).
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { ExecutorConfig } from "./ExecutorConfig.js"
import * as AdminHttp from "./internal/adminHttp.js"
import { encodeCallbackJson } from "./internal/wireCodecs.js"
import type { CallbackItem, RegistryParam } from "./Wire.js"

/**
 * The admin endpoint a call is for.
 *
 * @example
 * ```ts
 * import type { AdminClient } from "effect-xxl-job"
 *
 * const aboutResults = (error: AdminClient.AdminError) => error.operation === "callback"
 * ```
 *
 * @since 1.0.0
 * @category models
 */
export type Operation = "registry" | "registryRemove" | "callback"

/**
 * What went wrong with one attempt at one admin.
 *
 * @example
 * ```ts
 * import { AdminClient } from "effect-xxl-job"
 *
 * const retryable = (problem: AdminClient.AdminProblem) =>
 *   AdminClient.AdminProblem.$match(problem, {
 *     Unreachable: () => true,
 *     NoAnswer: () => true,
 *     HttpStatus: ({ status }) => status >= 500,
 *     NotProtocol: () => false,
 *     Refused: () => true,
 *     NotSent: () => false
 *   })
 * ```
 *
 * @since 1.0.0
 * @category models
 */
export type AdminProblem = Data.TaggedEnum<{
  /** No connection, or it broke: refused, reset, a name that does not resolve, a certificate not trusted. */
  Unreachable: { readonly cause: unknown }
  /** No whole answer within `adminTimeout`. */
  NoAnswer: { readonly timeout: Duration.Duration }
  /** An HTTP status other than 200; `snippet` is the body's start on one line (empty for an empty body). */
  HttpStatus: { readonly status: number; readonly snippet: string }
  /**
   * HTTP 200, but not the protocol: an HTML page (a login page in front of the admin, or a wrong context
   * path), text that is not JSON, or JSON without a `code`.
   */
  NotProtocol: { readonly kind: "html" | "notJson" | "jsonWithoutCode"; readonly snippet: string }
  /** The admin's own refusal, `{code, msg}` with a code other than 200 (a wrong token, say). */
  Refused: { readonly code: number; readonly msg: string | undefined }
  /** Node refused to send the request at all (a header value it will not send, say). */
  NotSent: { readonly cause: unknown }
}>

/**
 * Constructors and matchers of `AdminProblem`, for clients of your own and tests.
 *
 * @example
 * ```ts
 * import { AdminClient } from "effect-xxl-job"
 *
 * const wrongToken = AdminClient.AdminProblem.Refused({ code: 500, msg: "The access token is wrong." })
 * ```
 *
 * @since 1.0.0
 * @category constructors
 */
export const AdminProblem = Data.taggedEnum<AdminProblem>()

/**
 * One admin address tried: the URL posted to and what went wrong.
 *
 * @example
 * ```ts
 * import { AdminClient } from "effect-xxl-job"
 *
 * const attempt: AdminClient.AdminAttempt = {
 *   url: "http://admin:8080/xxl-job-admin/api/callback",
 *   problem: AdminClient.AdminProblem.HttpStatus({ status: 502, snippet: "Bad Gateway" })
 * }
 * ```
 *
 * @since 1.0.0
 * @category models
 */
export interface AdminAttempt {
  /** `{admin address}/api/{operation}`. */
  readonly url: string
  readonly problem: AdminProblem
}

const causeMessage = (cause: unknown) => cause instanceof Error ? cause.message : String(cause)

const problemText = AdminProblem.$match({
  Unreachable: ({ cause }) => `unreachable (${causeMessage(cause)})`,
  NoAnswer: ({ timeout }) => `no answer within ${Duration.format(timeout)}`,
  HttpStatus: ({ snippet, status }) => `HTTP ${status}${snippet === "" ? "" : ` (${snippet})`}`,
  NotProtocol: ({ kind, snippet }) =>
    kind === "html"
      ? `answered HTML, not the XXL-JOB protocol (a login page or a wrong context path?): ${snippet}`
      : kind === "notJson"
      ? `answered something that is not JSON: ${snippet}`
      : `answered JSON without a code: ${snippet}`,
  Refused: ({ code, msg }) => `code ${code}${msg ? `: ${msg}` : ""}`,
  NotSent: ({ cause }) => `could not be sent (${causeMessage(cause)})`
})

/**
 * An attempt on one line, as `AdminError`'s message lists it: the URL, then what went wrong.
 *
 * @example
 * ```ts
 * import { AdminClient } from "effect-xxl-job"
 *
 * AdminClient.formatAttempt({
 *   url: "http://admin:8080/xxl-job-admin/api/registry",
 *   problem: AdminClient.AdminProblem.Refused({ code: 500, msg: "The access token is wrong." })
 * }) // "http://admin:8080/xxl-job-admin/api/registry code 500: The access token is wrong."
 * ```
 *
 * @since 1.0.0
 * @category utils
 */
export const formatAttempt = (attempt: AdminAttempt): string => `${attempt.url} ${problemText(attempt.problem)}`

/**
 * No admin accepted the call: `attempts` holds each admin address tried, in order, with what went wrong
 * there; it is empty when no admin address is configured.
 *
 * @example
 * ```ts
 * import { AdminClient } from "effect-xxl-job"
 * import { Effect } from "effect"
 *
 * const loginPageInTheWay = (error: AdminClient.AdminError) =>
 *   error.attempts.some(({ problem }) => problem._tag === "NotProtocol" && problem.kind === "html")
 *
 * const flaky = new AdminClient.AdminError({
 *   operation: "callback",
 *   attempts: [{
 *     url: "http://admin:8080/xxl-job-admin/api/callback",
 *     problem: AdminClient.AdminProblem.Unreachable({ cause: new Error("connect ECONNREFUSED") })
 *   }]
 * })
 * // "callback failed: http://admin:8080/xxl-job-admin/api/callback unreachable (connect ECONNREFUSED)"
 * Effect.fail(flaky).pipe(Effect.catchTag("AdminError", (error) => Effect.log(error.message)))
 * ```
 *
 * @since 1.0.0
 * @category errors
 */
export class AdminError extends Data.TaggedError("AdminError")<{
  readonly operation: Operation
  readonly attempts: ReadonlyArray<AdminAttempt>
}> {
  override get message(): string {
    return this.attempts.length === 0
      ? `${this.operation}: no admin address is configured`
      : `${this.operation} failed: ${this.attempts.map(formatAttempt).join("; ")}`
  }
}

/**
 * The admin client: each call succeeds once an admin answered code 200, else fails with an `AdminError`.
 *
 * @example
 * ```ts
 * import { AdminClient } from "effect-xxl-job"
 * import { Effect } from "effect"
 *
 * // A client that accepts everything and logs the results, for a test of your own.
 * const accepting: AdminClient.Service = {
 *   registry: () => Effect.void,
 *   registryRemove: () => Effect.void,
 *   callback: (items) => Effect.log(`${items.length} result(s)`)
 * }
 * ```
 *
 * @since 1.0.0
 * @category models
 */
export interface Service {
  readonly registry: (param: RegistryParam) => Effect.Effect<void, AdminError>
  readonly registryRemove: (param: RegistryParam) => Effect.Effect<void, AdminError>
  readonly callback: (items: ReadonlyArray<CallbackItem>) => Effect.Effect<void, AdminError>
}

/**
 * @example
 * ```ts
 * import { AdminClient, Wire } from "effect-xxl-job"
 * import { Effect } from "effect"
 *
 * const register = Effect.flatMap(AdminClient.AdminClient, (admin) =>
 *   admin.registry(new Wire.RegistryParam({
 *     registryGroup: "EXECUTOR",
 *     registryKey: "my-app",
 *     registryValue: "http://10.0.0.5:9999/"
 *   })))
 * ```
 *
 * @since 1.0.0
 * @category tags
 */
export class AdminClient extends Context.Tag("effect-xxl-job/AdminClient")<AdminClient, Service>() {}

/**
 * An admin client over HTTP for the settings' admin addresses: straight to the admin, or through a proxy when
 * `HTTP_PROXY` / `HTTPS_PROXY` name one (read when it is made). Its connections close with the scope.
 *
 * @example
 * ```ts
 * import { AdminClient, ExecutorConfig } from "effect-xxl-job"
 * import { Effect } from "effect"
 *
 * const client = AdminClient.make.pipe(
 *   Effect.provideServiceEffect(
 *     ExecutorConfig.ExecutorConfig,
 *     ExecutorConfig.make({ adminAddresses: "http://127.0.0.1:8080/xxl-job-admin", appName: "my-app" })
 *   ),
 *   Effect.scoped
 * )
 * ```
 *
 * @since 1.0.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, ExecutorConfig | Scope.Scope> = Effect.gen(function*() {
  const settings = yield* ExecutorConfig
  const poster = yield* Effect.acquireRelease(
    Effect.sync(() => AdminHttp.makePoster(settings)),
    (poster) => Effect.promise(poster.close)
  )
  /** Posts with plain callbacks: `done` gets undefined once an admin took it, else the error. */
  const postNow = (operation: Operation, body: string, done: (error: AdminError | undefined) => void) =>
    poster.post(
      operation,
      body,
      (attempts) => done(attempts === undefined ? undefined : new AdminError({ operation, attempts }))
    )
  /** `postNow` as an Effect: interrupting it aborts the request. */
  const post = (operation: Operation, body: string) =>
    Effect.async<void, AdminError>((resume) => {
      const abort = postNow(operation, body, (error) => resume(error === undefined ? Effect.void : Effect.fail(error)))
      return Effect.sync(abort)
    })
  const callbackBody = (items: ReadonlyArray<CallbackItem>) => encodeCallbackJson(items, settings.protocol)
  return AdminHttp.withPlainCallback(
    AdminClient.of({
      registry: (param) => post("registry", JSON.stringify(param)),
      registryRemove: (param) => post("registryRemove", JSON.stringify(param)),
      callback: (items) => post("callback", callbackBody(items))
    }),
    // The outbox's hot path: a callback batch without a fiber.
    (items, done) => postNow("callback", callbackBody(items), done)
  )
})

/**
 * The admin client of `make`, as a layer.
 *
 * @example
 * ```ts
 * import { AdminClient, ExecutorConfig } from "effect-xxl-job"
 * import { Layer } from "effect"
 *
 * const AdminLive = AdminClient.layer.pipe(
 *   Layer.provide(ExecutorConfig.layer({ adminAddresses: "http://127.0.0.1:8080/xxl-job-admin", appName: "my-app" }))
 * )
 * ```
 *
 * @since 1.0.0
 * @category layers
 */
export const layer: Layer.Layer<AdminClient, never, ExecutorConfig> = Layer.scoped(AdminClient, make)
