/**
 * A mock XXL-JOB admin, for tests (ours and our users') and for `npm start` without Java. It records what
 * executors register and report, and drives them as the admin would: trigger a job, await its result, read
 * its log, kill it.
 *
 * Three ways to have one:
 * - `MockAdmin.layer(jobs)`: in process, no sockets: the executor's endpoints are called directly.
 * - `MockAdmin.layerHttp(jobs)`: an executor and an admin over real HTTP on loopback, as in production.
 * - `MockAdmin.serve(options)`: only the admin, over HTTP on loopback, for executors running elsewhere.
 *
 * Any of them can be made flaky while it runs, per endpoint: down, HTTP 5xx, an HTML login page, slow, or
 * `{"code":500}` (`setFault`, `Fault`), to test that results still arrive once the admin is back.
 *
 * @example
 * ```ts
 * import { assert, it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Job } from "effect-xxl-job"
 * import { MockAdmin } from "effect-xxl-job/testing"
 *
 * const Hello = Job.make({ name: "hello", run: Effect.map(Job.JobContext, ({ params }) => `hello ${params}`) })
 *
 * it.live("hello, end to end over HTTP", () =>
 *   Effect.gen(function*() {
 *     const admin = yield* MockAdmin.MockAdmin
 *     const { result, triggered } = yield* admin.run({ handler: "hello", params: "world" })
 *     assert.strictEqual(result.handleMsg, "hello world")
 *     assert.include((yield* admin.log(triggered.logId)).logContent, "xxl-job job execute end")
 *   }).pipe(Effect.provide(MockAdmin.layerHttp(Job.registry(Hello)))))
 * ```
 *
 * @since 1.0.0
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import { createServer, STATUS_CODES } from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import * as AdminClient from "./AdminClient.js"
import * as Executor from "./Executor.js"
import * as ExecutorConfig from "./ExecutorConfig.js"
import { judge } from "./internal/adminHttp.js"
import { Endpoints } from "./internal/endpoints.js"
import * as Engine from "./internal/engine.js"
import * as OutboxStore from "./internal/outboxStore.js"
import { encodeCallbackJson } from "./internal/wireCodecs.js"
import type * as Job from "./Job.js"
import * as JobLog from "./JobLog.js"
import * as Wire from "./Wire.js"

/**
 * A registration the admin received.
 *
 * @since 1.0.0
 * @category models
 */
export interface Registration {
  readonly kind: "registry" | "registryRemove"
  readonly appName: string
  readonly address: string
  readonly at: Date
}

/**
 * What the test asks the admin to trigger; everything but the handler has a default.
 *
 * @since 1.0.0
 * @category models
 */
export interface TriggerOptions {
  readonly handler: string
  readonly params?: string | undefined
  /** Defaults to a jobId of its own per handler name, stable for the admin's life. */
  readonly jobId?: number | undefined
  /** Defaults to the next logId. */
  readonly logId?: number | undefined
  readonly blockStrategy?: "SERIAL_EXECUTION" | "DISCARD_LATER" | "COVER_EARLY" | (string & {}) | undefined
  readonly timeoutSeconds?: number | undefined
  readonly shardIndex?: number | undefined
  readonly shardTotal?: number | undefined
  readonly glueType?: string | undefined
  readonly glueSource?: string | undefined
  readonly glueUpdatetime?: number | undefined
  /** Trigger time, epoch ms; defaults to now. */
  readonly logDateTime?: number | undefined
  /** The executor address to send it to (over HTTP); default: the one that registered last. */
  readonly executor?: string | undefined
}

/**
 * A trigger as sent, and the executor's immediate answer.
 *
 * @since 1.0.0
 * @category models
 */
export interface Triggered {
  readonly jobId: number
  readonly logId: number
  readonly logDateTime: number
  readonly reply: Wire.Reply
  /** The executor address it was sent to (over HTTP), as chosen by `executor` or the default. */
  readonly executor: string | undefined
}

/**
 * The mock admin could not do what the test asked, and why (`reason`): no executor has registered (or not in
 * time), no result came in time, the executor refused the trigger (its `reply`), a call to it failed
 * (`cause`), or its reply was not the protocol's.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MockAdmin } from "effect-xxl-job/testing"
 *
 * // A run that must be refused (DISCARD_LATER while busy, say): the refusal is data, not text to match.
 * const refused = (admin: MockAdmin.Service) =>
 *   admin.run({ handler: "report", blockStrategy: "DISCARD_LATER" }).pipe(
 *     Effect.flip,
 *     Effect.map((error) => error.reason === "Refused" ? error.reply?.msg : undefined)
 *   )
 * ```
 *
 * @since 1.0.0
 * @category errors
 */
export class MockAdminError extends Data.TaggedError("MockAdminError")<{
  readonly reason: "NoExecutor" | "NoResult" | "Refused" | "CallFailed" | "BadReply"
  readonly message: string
  /** The run the error is about, when it is about one. */
  readonly logId?: number | undefined
  /** The executor's answer, when it refused the trigger. */
  readonly reply?: Wire.Reply | undefined
  /** What failed underneath, when a call failed or a reply could not be read. */
  readonly cause?: unknown
}> {}

/**
 * An admin endpoint the executor calls: `api/registry`, `api/registryRemove` or `api/callback`.
 *
 * @since 1.0.0
 * @category models
 */
export type Endpoint = AdminClient.Operation

const endpoints: ReadonlyArray<Endpoint> = ["registry", "registryRemove", "callback"]

/**
 * A way the admin misbehaves on an endpoint, as real admins (and what stands in front of them) do. In process
 * the executor's admin client fails as an HTTP client would, with an `AdminError` whose attempt says so.
 *
 * @example
 * ```ts
 * import { MockAdmin } from "effect-xxl-job/testing"
 *
 * MockAdmin.Fault.Down()                                   // connections reset: "unreachable"
 * MockAdmin.Fault.HttpError({ status: 502 })               // HTTP 502 Bad Gateway
 * MockAdmin.Fault.LoginPage()                              // an HTML login page with HTTP 200
 * MockAdmin.Fault.Slow({ delay: "5 seconds" })             // answers late (past adminTimeout: "no answer")
 * MockAdmin.Fault.Refuse({ msg: "database unavailable" })  // {"code":500,"msg":"database unavailable"}
 * ```
 *
 * @since 1.0.0
 * @category models
 */
export type Fault = Data.TaggedEnum<{
  /** Down: the connection is reset once the request is in, and nothing is answered. */
  Down: {}
  /** Answers HTTP `status` (a 5xx, say) with its reason phrase as the body. */
  HttpError: { readonly status: number }
  /** Answers an HTML login page with HTTP 200, as a single sign-on proxy in front of the admin does. */
  LoginPage: {}
  /** Answers as it would, after `delay`; past the executor's `adminTimeout`, the executor gives up first. */
  Slow: { readonly delay: Duration.DurationInput }
  /** Answers `{"code":500,"msg":msg}`: the admin refuses the call. */
  Refuse: { readonly msg: string }
}>

/**
 * Constructors and matchers of `Fault`.
 *
 * @since 1.0.0
 * @category constructors
 */
export const Fault = Data.taggedEnum<Fault>()

/**
 * Faults to start with: one for every endpoint, or one per endpoint.
 *
 * @example
 * ```ts
 * import { MockAdmin } from "effect-xxl-job/testing"
 *
 * // Registers executors, refuses their results until `clearFault`.
 * const admin = MockAdmin.serve({ faults: { callback: MockAdmin.Fault.Refuse({ msg: "database unavailable" }) } })
 * ```
 *
 * @since 1.0.0
 * @category models
 */
export type Faults = Fault | { readonly [E in Endpoint]?: Fault | undefined }

/**
 * A request an executor made to the admin, answered normally or with a fault.
 *
 * @since 1.0.0
 * @category models
 */
export interface AdminRequest {
  /** Undefined for a path that is none of the admin's endpoints (a wrong context path, say). */
  readonly endpoint: Endpoint | undefined
  /** The path requested, e.g. `/xxl-job-admin/api/callback`. */
  readonly path: string
  /** The headers as sent, names in lower case (in process: none). */
  readonly headers: Readonly<Record<string, string>>
  /** The body as sent (in process: the JSON the executor's HTTP client would have sent). */
  readonly body: string
  readonly at: Date
  /** The fault the request met; undefined when it was answered normally. */
  readonly fault: Fault | undefined
}

/**
 * The mock admin: drives an executor as the admin does, records what it was told, and misbehaves on demand.
 *
 * @example
 * ```ts
 * import { assert, it } from "@effect/vitest"
 * import { Effect, TestClock } from "effect"
 * import { Job } from "effect-xxl-job"
 * import { MockAdmin } from "effect-xxl-job/testing"
 *
 * const jobs = Job.registry(Job.make({ name: "report", run: Effect.succeed("done") }))
 *
 * it.effect("a result survives an admin that answers 503 for a while", () =>
 *   Effect.gen(function*() {
 *     const admin = yield* MockAdmin.MockAdmin
 *     yield* admin.setFault(MockAdmin.Fault.HttpError({ status: 503 }), "callback")
 *     const { logId } = yield* admin.trigger({ handler: "report" })
 *     yield* TestClock.adjust("1 second")
 *     const refused = (yield* admin.requests).filter((request) => request.fault !== undefined)
 *     assert.isNotEmpty(refused)
 *     yield* admin.clearFault()
 *     yield* TestClock.adjust("2 seconds") // the executor's next retry
 *     assert.strictEqual((yield* admin.result(logId)).handleMsg, "done")
 *   }).pipe(Effect.provide(MockAdmin.layer(jobs))))
 * ```
 *
 * @since 1.0.0
 * @category models
 */
export interface Service {
  /** The admin's base URL when it serves HTTP (`.../xxl-job-admin`), else undefined. */
  readonly url: string | undefined
  readonly registrations: Effect.Effect<ReadonlyArray<Registration>>
  /** Every callback item received, in arrival order (duplicates included). */
  readonly callbacks: Effect.Effect<ReadonlyArray<Wire.CallbackItem>>
  /** The executor addresses currently registered. */
  readonly executors: Effect.Effect<ReadonlyArray<string>>
  /** Every request an executor made to the admin, in arrival order, faulted ones included. */
  readonly requests: Effect.Effect<ReadonlyArray<AdminRequest>>
  /**
   * Makes `endpoint` (every endpoint when none is named) misbehave as `fault` until it is cleared or set
   * again, from the next request on. A faulted request is recorded in `requests` only: no registration, no
   * callback.
   */
  readonly setFault: (fault: Fault, endpoint?: Endpoint | undefined) => Effect.Effect<void>
  /** Ends the fault on `endpoint` (on every endpoint when none is named): it answers normally again. */
  readonly clearFault: (endpoint?: Endpoint | undefined) => Effect.Effect<void>
  readonly trigger: (options: TriggerOptions) => Effect.Effect<Triggered, MockAdminError>
  /** Waits for the first result of a run (default: 30 s). */
  readonly result: (
    logId: number,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<Wire.CallbackItem, MockAdminError>
  /** Triggers, then waits for the result; fails when the trigger is refused. */
  readonly run: (
    options: TriggerOptions
  ) => Effect.Effect<{ readonly triggered: Triggered; readonly result: Wire.CallbackItem }, MockAdminError>
  /** Reads a run's log from a line on (default 1), as the admin's log view does, from the executor that ran it. */
  readonly log: (logId: number, fromLineNum?: number) => Effect.Effect<Wire.LogResult, MockAdminError>
  /** Kills the job on an executor (default: the one that registered last). */
  readonly kill: (jobId: number, executor?: string) => Effect.Effect<Wire.Reply, MockAdminError>
  readonly beat: Effect.Effect<Wire.Reply, MockAdminError>
  readonly idleBeat: (jobId: number) => Effect.Effect<Wire.Reply, MockAdminError>
  /** Sends any request to an executor (default: the one that registered last): path as sent, body as text. */
  readonly call: (
    path: string,
    body?: string | undefined,
    executor?: string | undefined
  ) => Effect.Effect<Wire.Reply, MockAdminError>
}

/**
 * @since 1.0.0
 * @category tags
 */
export class MockAdmin extends Context.Tag("effect-xxl-job/MockAdmin")<MockAdmin, Service>() {}

/**
 * How the mock admin reaches an executor: `call(path, body, executor)` gives the parsed reply (in process there
 * is one executor, and `executor` is ignored).
 */
type Transport = (
  path: string,
  body: string | undefined,
  executor?: string | undefined
) => Effect.Effect<Wire.Reply, MockAdminError>

/**
 * What the admin has been told (registrations and results, with waiters for results to come, and every
 * request), and the faults it is to answer with.
 */
const makeRecorder = (initialFaults: Faults | undefined) => {
  const registrations: Array<Registration> = []
  const requests: Array<AdminRequest> = []
  const faults = new Map<Endpoint, Fault>()
  const setFault = (fault: Fault | undefined, endpoint: Endpoint | undefined) => {
    for (const each of endpoint === undefined ? endpoints : [endpoint]) {
      if (fault === undefined) faults.delete(each)
      else faults.set(each, fault)
    }
  }
  if (initialFaults !== undefined && "_tag" in initialFaults) setFault(initialFaults as Fault, undefined)
  else for (const endpoint of endpoints) setFault(initialFaults?.[endpoint], endpoint)
  const callbacks: Array<Wire.CallbackItem> = []
  const waiters = new Map<number, Deferred.Deferred<Wire.CallbackItem>>()
  const waiter = (logId: number) => {
    let deferred = waiters.get(logId)
    if (deferred === undefined) {
      deferred = Deferred.unsafeMake<Wire.CallbackItem>(undefined as never)
      waiters.set(logId, deferred)
    }
    return deferred
  }
  /** The executors registered and not removed, in the order they first registered. */
  const liveExecutors = () => {
    const live = new Set<string>()
    for (const r of registrations) {
      if (r.kind === "registry") live.add(r.address)
      else live.delete(r.address)
    }
    return [...live]
  }
  return {
    registrations,
    callbacks,
    requests,
    waiter,
    setFault: (fault: Fault | undefined, endpoint: Endpoint | undefined) =>
      Effect.sync(() => setFault(fault, endpoint)),
    /** Records a request, and gives the fault it meets. */
    request: (request: Omit<AdminRequest, "at" | "fault">) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const fault = request.endpoint === undefined ? undefined : faults.get(request.endpoint)
        requests.push({ ...request, at: new Date(now), fault })
        return fault
      }),
    register: (kind: Registration["kind"], param: Wire.RegistryParam) =>
      Effect.sync(() => {
        registrations.push({ kind, appName: param.registryKey, address: param.registryValue, at: new Date() })
      }),
    receive: (items: ReadonlyArray<Wire.CallbackItem>) =>
      Effect.forEach(items, (item) => {
        callbacks.push(item)
        return Deferred.succeed(waiter(item.logId), item)
      }, { discard: true }),
    appNameOf: (address: string) => registrations.findLast((r) => r.address === address)?.appName ?? "",
    latestExecutor: (): string | undefined => {
      const live = liveExecutors()
      return live[live.length - 1]
    },
    liveExecutors
  }
}

type Recorder = ReturnType<typeof makeRecorder>

const decodeReply = Schema.decodeUnknown(Schema.parseJson(Wire.AdminReply))
const decodeLog = Schema.decodeUnknown(Wire.LogResult)

const makeService = (
  recorder: Recorder,
  transport: Transport,
  url: string | undefined,
  protocol: Wire.Protocol,
  firstLogId = 1
): Service => {
  // The 3.5 admin triggers at /trigger and sends logDateTime in /log; released admins use /run, logDateTim.
  const triggerPath = protocol === "3.5" ? "/trigger" : "/run"
  const logDateField = protocol === "3.5" ? "logDateTime" : "logDateTim"
  let nextLogId = firstLogId
  let nextJobId = 1
  const jobIds = new Map<string, number>()
  const triggerTimes = new Map<number, number>()
  /** Where each run was sent, so that its log is read there. */
  const executorOf = new Map<number, string | undefined>()

  const trigger = (options: TriggerOptions) =>
    Effect.suspend(() => {
      let jobId = options.jobId
      if (jobId === undefined) {
        jobId = jobIds.get(options.handler) ?? nextJobId++
        jobIds.set(options.handler, jobId)
      }
      const logId = options.logId ?? nextLogId++
      if (logId >= nextLogId) nextLogId = logId + 1
      const logDateTime = options.logDateTime ?? Date.now()
      triggerTimes.set(logId, logDateTime)
      const body = {
        jobId,
        executorHandler: options.handler,
        executorParams: options.params ?? "",
        executorBlockStrategy: options.blockStrategy ?? "SERIAL_EXECUTION",
        executorTimeout: options.timeoutSeconds ?? 0,
        logId,
        logDateTime,
        glueType: options.glueType ?? "BEAN",
        glueSource: options.glueSource ?? "",
        glueUpdatetime: options.glueUpdatetime ?? logDateTime,
        broadcastIndex: options.shardIndex ?? 0,
        broadcastTotal: options.shardTotal ?? 1
      }
      const executor = options.executor ?? (url === undefined ? undefined : recorder.latestExecutor())
      executorOf.set(logId, executor)
      return Effect.map(
        transport(triggerPath, JSON.stringify(body), executor),
        (reply) => ({ jobId, logId, logDateTime, reply, executor })
      )
    })

  const result = (logId: number, timeout: Duration.DurationInput = Duration.seconds(30)) =>
    Deferred.await(recorder.waiter(logId)).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new MockAdminError({
            reason: "NoResult",
            logId,
            message: `no result for logId ${logId} within ${Duration.format(timeout)}`
          })
      })
    )

  const log = (logId: number, fromLineNum = 1) =>
    transport(
      "/log",
      JSON.stringify({ [logDateField]: triggerTimes.get(logId) ?? Date.now(), logId, fromLineNum }),
      executorOf.get(logId)
    ).pipe(
      Effect.flatMap((reply) => decodeLog(reply.data ?? reply.content)),
      Effect.mapError((error) =>
        error instanceof MockAdminError
          ? error
          : new MockAdminError({ reason: "BadReply", logId, cause: error, message: `bad /log reply: ${error.message}` })
      )
    )

  return {
    url,
    registrations: Effect.sync(() => [...recorder.registrations]),
    callbacks: Effect.sync(() => [...recorder.callbacks]),
    executors: Effect.sync(recorder.liveExecutors),
    requests: Effect.sync(() => [...recorder.requests]),
    setFault: (fault, endpoint) => recorder.setFault(fault, endpoint),
    clearFault: (endpoint) => recorder.setFault(undefined, endpoint),
    trigger,
    result,
    run: (options) =>
      Effect.gen(function*() {
        const triggered = yield* trigger(options)
        if (triggered.reply.code !== Wire.Code.success) {
          return yield* new MockAdminError({
            reason: "Refused",
            logId: triggered.logId,
            reply: triggered.reply,
            message: `trigger of ${options.handler} refused: ${triggered.reply.msg ?? `code ${triggered.reply.code}`}`
          })
        }
        return { triggered, result: yield* result(triggered.logId) }
      }),
    log,
    kill: (jobId, executor) => transport("/kill", JSON.stringify({ jobId }), executor),
    beat: transport("/beat", undefined),
    idleBeat: (jobId) => transport("/idleBeat", JSON.stringify({ jobId })),
    call: transport
  }
}

const loginPage = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n" +
  "<body><form method=\"post\" action=\"/login\"><input name=\"username\"><input name=\"password\" " +
  "type=\"password\"><button>Sign in</button></form></body></html>\n"

/** The faults that answer something of their own (Down answers nothing, Slow what the admin would). */
type AnsweringFault = Exclude<Fault, { readonly _tag: "Down" | "Slow" }>

/** What an answering fault answers in place of the admin. */
const faultAnswer = (
  fault: AnsweringFault
): { readonly status: number; readonly type: string; readonly body: string } => {
  switch (fault._tag) {
    case "HttpError":
      return { status: fault.status, type: "text/plain", body: STATUS_CODES[fault.status] ?? "Error" }
    case "LoginPage":
      return { status: 200, type: "text/html;charset=UTF-8", body: loginPage }
    case "Refuse":
      return { status: 200, type: "application/json", body: JSON.stringify({ code: 500, msg: fault.msg }) }
  }
}

/** Where the in-process admin "is", for the attempts of the errors its faults give. */
const inProcessBase = "http://mock-admin.invalid/xxl-job-admin"

/**
 * An AdminClient that records straight into the mock admin, and meets its faults as the HTTP client would:
 * an `AdminError` whose one attempt says what the admin did (a slow answer within `adminTimeout` is only late).
 */
const recordingClient = (recorder: Recorder, settings: ExecutorConfig.Settings) => {
  const call = (endpoint: Endpoint, body: string, accept: Effect.Effect<void>) =>
    Effect.flatMap(
      recorder.request({ endpoint, path: `/xxl-job-admin/api/${endpoint}`, headers: {}, body }),
      (fault): Effect.Effect<void, AdminClient.AdminError> => {
        if (fault === undefined) return accept
        const fail = (problem: AdminClient.AdminProblem) =>
          new AdminClient.AdminError({
            operation: endpoint,
            attempts: [{ url: `${inProcessBase}/api/${endpoint}`, problem }]
          })
        if (fault._tag === "Down") {
          const cause = Object.assign(new Error("the mock admin is down"), { code: "ECONNRESET" })
          return Effect.fail(fail(AdminClient.AdminProblem.Unreachable({ cause })))
        }
        if (fault._tag === "Slow") {
          const delay = Duration.decode(fault.delay)
          return Duration.lessThan(delay, settings.adminTimeout)
            ? Effect.zipRight(Effect.sleep(delay), accept)
            : Effect.zipRight(
              Effect.sleep(settings.adminTimeout),
              Effect.fail(fail(AdminClient.AdminProblem.NoAnswer({ timeout: settings.adminTimeout })))
            )
        }
        const answer = faultAnswer(fault)
        // Judged as the HTTP client judges an answer, so that the problem is the one it would report.
        const problem = judge(answer.status, answer.body)
        return problem === undefined ? accept : Effect.fail(fail(problem))
      }
    )
  return AdminClient.AdminClient.of({
    registry: (param) => call("registry", JSON.stringify(param), recorder.register("registry", param)),
    registryRemove: (param) =>
      call("registryRemove", JSON.stringify(param), recorder.register("registryRemove", param)),
    callback: (items) => call("callback", encodeCallbackJson(items, settings.protocol), recorder.receive(items))
  })
}

/** A fresh temp dir for an executor's files, removed with the scope. */
const tempLogPath = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-xxl-job-mock-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/**
 * An executor for `jobs` and a mock admin driving it in process: no sockets, the executor's own endpoints.
 * Run logs and results stay in memory: nothing outlives the test.
 *
 * @example
 * ```ts
 * import { assert, it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Job } from "effect-xxl-job"
 * import { MockAdmin } from "effect-xxl-job/testing"
 *
 * const Hello = Job.make({ name: "hello", run: Effect.succeed("done") })
 *
 * it.effect("hello says done", () =>
 *   Effect.gen(function*() {
 *     const admin = yield* MockAdmin.MockAdmin
 *     const { result } = yield* admin.run({ handler: "hello" })
 *     assert.strictEqual(result.handleMsg, "done")
 *   }).pipe(Effect.provide(MockAdmin.layer(Job.registry(Hello)))))
 * ```
 *
 * @since 1.0.0
 * @category layers
 */
export const layer = <E, R>(
  jobs: Job.Registry<E, R>,
  options: ExecutorConfig.Options = {}
): Layer.Layer<MockAdmin, ExecutorConfig.ExecutorConfigError, R> =>
  // Built afresh each time the layer is: every test gets an admin of its own. (Its context holds the engine's
  // parts too, which our own tests read with `Effect.serviceOption`.)
  Layer.suspend(() => {
    const recorder = makeRecorder(undefined)
    return Layer.effect(
      MockAdmin,
      Effect.gen(function*() {
        const endpoints = yield* Endpoints
        const settings = yield* ExecutorConfig.ExecutorConfig
        // The admin sends what the executor expects, as a correctly configured admin does.
        const headers = {
          "xxl-job-access-token": Redacted.value(settings.accessToken),
          "xxl-job-appname": settings.appName
        }
        const transport: Transport = (path, body) =>
          endpoints.handle({ method: "POST", url: path, headers, body: body ?? "" })
        return makeService(recorder, transport, undefined, settings.protocol)
      })
    ).pipe(
      Layer.provideMerge(Engine.layer(jobs)),
      Layer.provide(
        Layer.effect(
          AdminClient.AdminClient,
          Effect.map(ExecutorConfig.ExecutorConfig, (settings) => recordingClient(recorder, settings))
        )
      ),
      // In process, run logs and results stay in memory: nothing outlives the test. What still needs a
      // folder (GLUE scripts' sources) goes to a temp dir of this layer's own, unless the options name one.
      Layer.provide(JobLog.layerMemory),
      Layer.provide(OutboxStore.layerMemory),
      Layer.provideMerge(
        Layer.unwrapScoped(
          Effect.map(tempLogPath, (logPath) => ExecutorConfig.layer({ appName: "mock-executor", logPath, ...options }))
        )
      )
    )
  })

// ---------------------------------------------------------------------------------------------------------
// Over HTTP
// ---------------------------------------------------------------------------------------------------------

/**
 * Options of a mock admin served over HTTP.
 *
 * @since 1.0.0
 * @category models
 */
export interface ServeOptions {
  /** Default 0: a free port. */
  readonly port?: number | undefined
  /** Default 127.0.0.1. */
  readonly host?: string | undefined
  /** Default `/xxl-job-admin`, the admin's default context path. */
  readonly contextPath?: string | undefined
  /** The token the admin expects and sends; default none. */
  readonly accessToken?: string | undefined
  /** The wire the admin speaks: `"classic"` (2.2 to 3.4, default) or `"3.5"`. */
  readonly protocol?: Wire.Protocol | undefined
  /**
   * The first logId it hands out (default 1). A real admin's logIds never repeat; an admin that restarts
   * with files from its earlier runs around can start from the clock (`Math.floor(Date.now() / 1000)`).
   */
  readonly firstLogId?: number | undefined
  /** Faults from the start (see `Service.setFault`); default none. */
  readonly faults?: Faults | undefined
  /**
   * More routes on the same server (the development admin's console): given each request first, it answers
   * the ones it knows, out of the record and unfaulted, and gives undefined for the rest.
   *
   * @internal
   */
  readonly routes?:
    | ((
      request: HttpServerRequest.HttpServerRequest
    ) => Effect.Effect<HttpServerResponse.HttpServerResponse> | undefined)
    | undefined
}

const adminReply = (reply: Wire.Reply) => HttpServerResponse.unsafeJson(reply)

/**
 * Serves a mock admin over HTTP: `{contextPath}/api/registry`, `/api/registryRemove` and `/api/callback`,
 * answering as admin 3.4 does. It triggers executors at the address they registered (the latest one).
 *
 * @since 1.0.0
 * @category constructors
 */
export const serve = (options: ServeOptions = {}): Effect.Effect<Service, ServeError, Scope.Scope> =>
  Effect.gen(function*() {
    const recorder = makeRecorder(options.faults)
    const contextPath = (options.contextPath ?? "/xxl-job-admin").replace(/\/+$/, "")
    const token = options.accessToken ?? ""
    const nodeServer = createServer()
    // Idle connections kept 60 s, and said so in `Keep-Alive`, as the Java admin's embedded Tomcat does (Node's
    // own 5 s would hide whether an executor lets its idle connections go by itself).
    nodeServer.keepAliveTimeout = 60_000
    const server = yield* NodeHttpServer.make(() => nodeServer, {
      port: options.port ?? 0,
      host: options.host ?? "127.0.0.1"
    })
    // Closing does not wait for requests a Slow fault holds: they are cut.
    yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))
    const address = server.address
    const host = address._tag === "TcpAddress" ? address.hostname : "127.0.0.1"
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${
      address._tag === "TcpAddress" ? address.port : 0
    }${contextPath}`
    const endpointOf = (path: string) => endpoints.find((endpoint) => path === `${contextPath}/api/${endpoint}`)

    /** What the admin does under `fault`: an answer of the fault's own, else undefined to answer as usual. */
    const meet = (fault: Fault, request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function*() {
        if (fault._tag === "Down") {
          NodeHttpServerRequest.toIncomingMessage(request).socket.resetAndDestroy()
          // The reset ends the request (and interrupts this).
          return yield* Effect.never
        }
        if (fault._tag === "Slow") {
          yield* Effect.sleep(fault.delay)
          return undefined
        }
        const answer = faultAnswer(fault)
        return HttpServerResponse.text(answer.body, { status: answer.status, contentType: answer.type })
      })

    const handle = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const routed = options.routes?.(request)
      if (routed !== undefined) return yield* routed
      const text = yield* request.text
      const fault = yield* recorder.request({
        endpoint: endpointOf(request.url),
        path: request.url,
        headers: { ...request.headers },
        body: text
      })
      if (fault !== undefined) {
        const answer = yield* meet(fault, request)
        if (answer !== undefined) return answer
      }
      if (request.method !== "POST") return adminReply(Wire.failure("invalid request, HttpMethod not support."))
      if (token !== "" && request.headers["xxl-job-access-token"] !== token) {
        return adminReply(Wire.failure("The access token is wrong."))
      }
      if (text.trim() === "") return adminReply(Wire.failure("invalid request, requestBody empty."))
      const json = yield* Effect.try(() => JSON.parse(text) as unknown)
      switch (request.url) {
        case `${contextPath}/api/registry`:
        case `${contextPath}/api/registryRemove`: {
          const param = yield* Schema.decodeUnknown(Wire.RegistryParam)(json)
          if (!param.registryGroup || !param.registryKey || !param.registryValue) {
            return adminReply(Wire.failure("Illegal Argument."))
          }
          yield* recorder.register(request.url.endsWith("registry") ? "registry" : "registryRemove", param)
          return adminReply(Wire.success())
        }
        case `${contextPath}/api/callback`: {
          yield* recorder.receive(yield* Schema.decodeUnknown(Wire.CallbackBody)(json))
          return adminReply(Wire.success())
        }
        default:
          return adminReply(Wire.failure(`invalid request, uri-mapping(${request.url}) not found.`))
      }
    }).pipe(Effect.catchAllCause((cause) => Effect.succeed(adminReply(Wire.failure(`openapi invoke error: ${cause}`)))))
    yield* server.serve(handle)

    // Built in this scope: the client's connection pool lives as long as the admin.
    const http = Context.get(yield* Layer.build(NodeHttpClient.layerUndici), HttpClient.HttpClient)
    const transport: Transport = (path, body, executor) =>
      Effect.gen(function*() {
        const target = executor ?? recorder.latestExecutor()
        if (target === undefined) {
          return yield* new MockAdminError({ reason: "NoExecutor", message: "no executor has registered" })
        }
        const request = HttpClientRequest.post(target.replace(/\/+$/, "") + path).pipe(
          HttpClientRequest.setHeader("XXL-JOB-ACCESS-TOKEN", token),
          HttpClientRequest.setHeader("XXL-JOB-APPNAME", recorder.appNameOf(target)),
          body === undefined ? (r) => r : HttpClientRequest.bodyText(body, "application/json;charset=UTF-8")
        )
        const text = yield* http.execute(request).pipe(Effect.flatMap((response) => response.text), Effect.scoped)
        return yield* decodeReply(text)
      }).pipe(
        Effect.timeout(Duration.seconds(3)),
        Effect.mapError((error) =>
          error instanceof MockAdminError
            ? error
            : new MockAdminError({
              reason: "CallFailed",
              cause: error,
              message: `executor call ${path} failed: ${error}`
            })
        )
      )
    return makeService(recorder, transport, url, options.protocol ?? "classic", options.firstLogId)
  })

/**
 * A mock admin served over HTTP, as a layer.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerServe = (options: ServeOptions = {}): Layer.Layer<MockAdmin, ServeError> =>
  Layer.scoped(MockAdmin, serve(options))

/**
 * An executor for `jobs` and a mock admin, both over real HTTP on loopback (free ports): the production
 * path end to end. The layer is ready once the executor has registered.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerHttp = <E, R>(
  jobs: Job.Registry<E, R>,
  options: ExecutorConfig.Options & { readonly admin?: ServeOptions | undefined } = {}
): Layer.Layer<
  MockAdmin | Executor.Executor,
  ServeError | ExecutorConfig.ExecutorConfigError | MockAdminError,
  R
> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    // Run logs in a fresh temp dir of this layer's own (removed after), unless the options name one.
    const logPath = yield* tempLogPath
    const admin = yield* serve({
      accessToken: options.accessToken as string | undefined,
      protocol: options.protocol,
      ...options.admin
    })
    const executor = Executor.layer(jobs).pipe(
      Layer.provide(ExecutorConfig.layer({
        appName: "mock-executor",
        ip: "127.0.0.1",
        host: "127.0.0.1",
        port: 0,
        logPath,
        ...options,
        adminAddresses: admin.url
      }))
    )
    const ready = admin.executors.pipe(
      Effect.repeat({ schedule: Schedule.spaced(Duration.millis(5)), until: (list) => list.length > 0 }),
      Effect.timeoutFail({
        duration: Duration.seconds(5),
        onTimeout: () =>
          new MockAdminError({ reason: "NoExecutor", message: "the executor did not register within 5s" })
      })
    )
    return Layer.merge(Layer.succeed(MockAdmin, admin), executor).pipe(Layer.tap(() => ready))
  }))
