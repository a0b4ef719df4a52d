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
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
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
import { createServer } from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { AdminClient } from "./AdminClient.js"
import * as Executor from "./Executor.js"
import * as ExecutorConfig from "./ExecutorConfig.js"
import { Endpoints } from "./internal/endpoints.js"
import * as Engine from "./internal/engine.js"
import * as OutboxStore from "./internal/outboxStore.js"
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
 * The executor could not be reached, or no result came in time.
 *
 * @since 1.0.0
 * @category errors
 */
export class MockAdminError extends Data.TaggedError("MockAdminError")<{ readonly message: string }> {}

/**
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

/** What the admin has been told: registrations and results, with waiters for results to come. */
const makeRecorder = () => {
  const registrations: Array<Registration> = []
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
    waiter,
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
          new MockAdminError({ message: `no result for logId ${logId} within ${Duration.format(timeout)}` })
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
        error instanceof MockAdminError ? error : new MockAdminError({ message: `bad /log reply: ${error.message}` })
      )
    )

  return {
    url,
    registrations: Effect.sync(() => [...recorder.registrations]),
    callbacks: Effect.sync(() => [...recorder.callbacks]),
    executors: Effect.sync(recorder.liveExecutors),
    trigger,
    result,
    run: (options) =>
      Effect.gen(function*() {
        const triggered = yield* trigger(options)
        if (triggered.reply.code !== Wire.Code.success) {
          return yield* new MockAdminError({
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

/** An AdminClient that records straight into the mock admin. */
const recordingClient = (recorder: Recorder) =>
  AdminClient.of({
    registry: (param) => recorder.register("registry", param),
    registryRemove: (param) => recorder.register("registryRemove", param),
    callback: (items) => recorder.receive(items)
  })

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
): Layer.Layer<MockAdmin, ExecutorConfig.ExecutorConfigError, R> => layerInProcess(jobs, options)

/**
 * `layer`, with the engine's parts and the settings provided too, for our own tests that look inside.
 *
 * @internal
 */
export const layerInProcess = <E, R>(
  jobs: Job.Registry<E, R>,
  options: ExecutorConfig.Options = {}
): Layer.Layer<MockAdmin | Engine.Parts | ExecutorConfig.ExecutorConfig, ExecutorConfig.ExecutorConfigError, R> =>
  // Built afresh each time the layer is: every test gets an admin of its own.
  Layer.suspend(() => {
    const recorder = makeRecorder()
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
      Layer.provide(Layer.succeed(AdminClient, recordingClient(recorder))),
      Layer.provide(JobLog.layerMemory),
      Layer.provide(OutboxStore.layerMemory),
      Layer.provideMerge(ExecutorConfig.layer({ appName: "mock-executor", ...options }))
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
    const recorder = makeRecorder()
    const contextPath = (options.contextPath ?? "/xxl-job-admin").replace(/\/+$/, "")
    const token = options.accessToken ?? ""
    const server = yield* NodeHttpServer.make(() => createServer(), {
      port: options.port ?? 0,
      host: options.host ?? "127.0.0.1"
    })
    const address = server.address
    const host = address._tag === "TcpAddress" ? address.hostname : "127.0.0.1"
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${
      address._tag === "TcpAddress" ? address.port : 0
    }${contextPath}`

    const handle = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (request.method !== "POST") return adminReply(Wire.failure("invalid request, HttpMethod not support."))
      if (token !== "" && request.headers["xxl-job-access-token"] !== token) {
        return adminReply(Wire.failure("The access token is wrong."))
      }
      const text = yield* request.text
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
        if (target === undefined) return yield* new MockAdminError({ message: "no executor has registered" })
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
            : new MockAdminError({ message: `executor call ${path} failed: ${error}` })
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
    const logPath = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-xxl-job-mock-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
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
        onTimeout: () => new MockAdminError({ message: "the executor did not register within 5s" })
      })
    )
    return Layer.merge(Layer.succeed(MockAdmin, admin), executor).pipe(Layer.tap(() => ready))
  }))
