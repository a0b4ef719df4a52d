/**
 * The mock admin's faults: over HTTP, what the executor's own admin client makes of each; in process, the
 * same problems without sockets; switched per endpoint or for all while the admin runs, and recorded.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Either, Layer, Logger, TestClock } from "effect"
import { AdminClient, ExecutorConfig, Job, Wire } from "../src/index.js"
import { MockAdmin } from "../src/testing.js"

const registry = new Wire.RegistryParam({
  registryGroup: "EXECUTOR",
  registryKey: "app",
  registryValue: "http://127.0.0.1:9999/"
})
const items = [new Wire.CallbackItem({ logId: 1, logDateTim: 2, handleCode: 200, handleMsg: "ok" })]

/** The executor's own admin client, pointed at `url`, built in the test's scope. */
const clientFor = (url: string, options: ExecutorConfig.Options = {}) =>
  Layer.build(AdminClient.layer.pipe(
    Layer.provide(ExecutorConfig.layer({ appName: "app", adminAddresses: url, adminTimeoutSeconds: 1, ...options }))
  )).pipe(Effect.map(Context.get(AdminClient.AdminClient)))

/** The one attempt of a call that failed. */
const problemOf = <A>(call: Effect.Effect<A, AdminClient.AdminError>) =>
  Effect.gen(function*() {
    const result = yield* Effect.either(call)
    assert.isTrue(Either.isLeft(result), "the call failed")
    const error = (result as Either.Left<AdminClient.AdminError, A>).left
    assert.strictEqual(error.attempts.length, 1)
    return error.attempts[0]
  })

describe("MockAdmin faults over HTTP", () => {
  it.scopedLive("each fault reaches the executor's admin client as the problem it is", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve()
      const client = yield* clientFor(admin.url!)
      const callbackUrl = `${admin.url}/api/callback`

      yield* admin.setFault(MockAdmin.Fault.Down())
      const down = yield* problemOf(client.callback(items))
      assert.strictEqual(down.url, callbackUrl)
      assert.strictEqual(down.problem._tag, "Unreachable")

      yield* admin.setFault(MockAdmin.Fault.HttpError({ status: 502 }))
      assert.deepStrictEqual(
        (yield* problemOf(client.callback(items))).problem,
        AdminClient.AdminProblem.HttpStatus({ status: 502, snippet: "Bad Gateway" })
      )

      yield* admin.setFault(MockAdmin.Fault.LoginPage())
      const login = (yield* problemOf(client.callback(items))).problem
      assert.strictEqual(login._tag, "NotProtocol")
      assert.strictEqual(login._tag === "NotProtocol" && login.kind, "html")

      yield* admin.setFault(MockAdmin.Fault.Refuse({ msg: "database unavailable" }))
      assert.deepStrictEqual(
        (yield* problemOf(client.callback(items))).problem,
        AdminClient.AdminProblem.Refused({ code: 500, msg: "database unavailable" })
      )

      yield* admin.setFault(MockAdmin.Fault.Slow({ delay: "3 seconds" }))
      assert.deepStrictEqual(
        (yield* problemOf(client.callback(items))).problem,
        AdminClient.AdminProblem.NoAnswer({ timeout: Duration.seconds(1) })
      )
      // Slow but within the client's timeout: only late.
      yield* admin.setFault(MockAdmin.Fault.Slow({ delay: "300 millis" }))
      const started = Date.now()
      yield* client.callback(items)
      assert.isAtLeast(Date.now() - started, 280)

      yield* admin.clearFault()
      yield* client.callback(items)
      // Only the answered requests were taken: the late one and the last.
      assert.deepStrictEqual((yield* admin.callbacks).map((item) => item.logId), [1, 1])
      const requests = yield* admin.requests
      assert.deepStrictEqual(requests.map((request) => request.fault?._tag), [
        "Down",
        "HttpError",
        "LoginPage",
        "Refuse",
        "Slow",
        "Slow",
        undefined
      ])
      for (const request of requests) {
        assert.strictEqual(request.endpoint, "callback")
        assert.strictEqual(request.path, "/xxl-job-admin/api/callback")
        assert.strictEqual(request.headers["xxl-job-access-token"], "")
        assert.deepStrictEqual(JSON.parse(request.body), [{ ...items[0], executeResult: { code: 200, msg: "ok" } }])
      }
    }), 20_000)

  it.scopedLive("a fault on one endpoint leaves the others alone; faults can be there from the start", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve({ faults: { registry: MockAdmin.Fault.HttpError({ status: 503 }) } })
      const client = yield* clientFor(admin.url!)
      const refused = yield* problemOf(client.registry(registry))
      assert.deepStrictEqual(refused, {
        url: `${admin.url}/api/registry`,
        problem: AdminClient.AdminProblem.HttpStatus({ status: 503, snippet: "Service Unavailable" })
      })
      yield* client.registryRemove(registry)
      yield* client.callback(items)
      assert.deepStrictEqual((yield* admin.registrations).map((r) => r.kind), ["registryRemove"])

      yield* admin.setFault(MockAdmin.Fault.Refuse({ msg: "busy" }), "callback")
      yield* admin.clearFault("registry")
      yield* client.registry(registry)
      assert.strictEqual((yield* problemOf(client.callback(items))).problem._tag, "Refused")
      assert.deepStrictEqual(
        (yield* admin.requests).map((request) => [request.endpoint, request.fault?._tag]),
        [
          ["registry", "HttpError"],
          ["registryRemove", undefined],
          ["callback", undefined],
          ["registry", undefined],
          ["callback", "Refuse"]
        ]
      )
    }))

  it.scopedLive("a fault for every endpoint from the start; a path that is no endpoint meets none", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve({ faults: MockAdmin.Fault.LoginPage() })
      const client = yield* clientFor(admin.url!)
      for (const call of [client.registry(registry), client.registryRemove(registry), client.callback(items)]) {
        assert.strictEqual((yield* problemOf(call)).problem._tag, "NotProtocol")
      }
      const wrongPath = yield* clientFor(admin.url!.replace("/xxl-job-admin", ""))
      assert.deepStrictEqual(
        (yield* problemOf(wrongPath.registry(registry))).problem,
        AdminClient.AdminProblem.Refused({ code: 500, msg: "invalid request, uri-mapping(/api/registry) not found." })
      )
      assert.deepStrictEqual((yield* admin.requests).at(-1)?.endpoint, undefined)
    }))
})

describe("MockAdmin faults in process", () => {
  const Report = Job.make({ name: "report", run: Effect.succeed("done") })
  const jobs = Job.registry(Report)

  /** The executor's warnings (the outbox says why each callback failed). */
  const capture = () => {
    const warnings: Array<string> = []
    const logger = Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") warnings.push(String(message))
      })
    )
    return { logger, warnings }
  }

  it.effect("the executor's callbacks fail as over HTTP, and the result arrives once the fault is cleared", () => {
    const { logger, warnings } = capture()
    return Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const url = "http://mock-admin.invalid/xxl-job-admin/api/callback"
      const faults: Array<[MockAdmin.Fault, string]> = [
        [MockAdmin.Fault.HttpError({ status: 503 }), `${url} HTTP 503 (Service Unavailable)`],
        [MockAdmin.Fault.Refuse({ msg: "database unavailable" }), `${url} code 500: database unavailable`],
        [MockAdmin.Fault.Down(), `${url} unreachable (the mock admin is down)`],
        [
          MockAdmin.Fault.LoginPage(),
          `${url} answered HTML, not the XXL-JOB protocol (a login page or a wrong context path?): <!DOCTYPE html>`
        ],
        // Past the executor's admin timeout (3 s by default): no answer.
        [MockAdmin.Fault.Slow({ delay: "1 minute" }), `${url} no answer within 3s`]
      ]
      for (const [fault, problem] of faults) {
        yield* admin.setFault(fault, "callback")
        const { logId } = yield* admin.trigger({ handler: "report" })
        yield* TestClock.adjust(Duration.seconds(4))
        assert.include(warnings.at(-1), `: callback failed: ${problem}`, fault._tag)
        yield* admin.clearFault()
        // A retry after the fault is taken (the waits between retries grow to 30 s).
        yield* TestClock.adjust(Duration.seconds(30))
        const delivered = (yield* admin.callbacks).filter((item) => item.logId === logId)
        assert.deepStrictEqual(delivered.map((item) => item.handleMsg), ["done"], fault._tag)
        warnings.length = 0
      }
      const requests = yield* admin.requests
      // Each fault met every attempt while it was set, and the first attempt after it was answered.
      const tags = requests.map((request) => request.fault?._tag ?? "answered")
      assert.deepStrictEqual(
        tags.filter((tag, i) => tag !== tags[i - 1]),
        ["HttpError", "answered", "Refuse", "answered", "Down", "answered", "LoginPage", "answered", "Slow", "answered"]
      )
      assert.deepStrictEqual(JSON.parse(requests[0].body)[0].logId, 1)
    }).pipe(Effect.provide(MockAdmin.layer(jobs)), Effect.provide(logger))
  })

  it.effect("slow within the admin timeout is only late", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.setFault(MockAdmin.Fault.Slow({ delay: "2 seconds" }))
      const { logId } = yield* admin.trigger({ handler: "report" })
      yield* TestClock.adjust(Duration.seconds(1))
      assert.deepStrictEqual(yield* admin.callbacks, [])
      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual((yield* admin.result(logId, "1 second")).handleMsg, "done")
      assert.strictEqual((yield* admin.requests).length, 1)
    }).pipe(Effect.provide(MockAdmin.layer(jobs))))

  it.effect("the example of the docs: a result survives an admin that answers 503 for a while", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.setFault(MockAdmin.Fault.HttpError({ status: 503 }), "callback")
      const { logId } = yield* admin.trigger({ handler: "report" })
      yield* TestClock.adjust("1 second")
      const refused = (yield* admin.requests).filter((request) => request.fault !== undefined)
      assert.isNotEmpty(refused)
      yield* admin.clearFault()
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* admin.result(logId)).handleMsg, "done")
    }).pipe(Effect.provide(MockAdmin.layer(jobs))))
})
