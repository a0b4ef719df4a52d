/**
 * The protocol doc's black-box conformance cases (section 11, all but the GLUE script ones), end to end over
 * real HTTP on loopback: raw requests to the executor for the transport cases, the mock admin for runs and
 * their results, and for what the executor sends to the admin (its recorded requests, its faults).
 *
 * Expected strings are written out literally (from the protocol doc and the observed Java executor), not
 * taken from `Messages`, so a wrong message in src fails here.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Logger, Schema, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { Executor, ExecutorConfig, Job } from "../src/index.js"
import { MockAdmin } from "../src/testing.js"
import { waitUntil } from "./helpers/wait.js"

// ---------------------------------------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------------------------------------

/** What the sleeping jobs did: "start:<logId>", "end:<logId>", "overlap:<logId>" (a run began beside another). */
const events: Array<string> = []
const activeRuns = new Map<number, number>()

/** Sleeps `params` ms; records its start and end, and any overlap with another run of the same jobId. */
const sleeper = (name: string) =>
  Job.make({
    name,
    params: Schema.NumberFromString,
    run: (ms) =>
      Effect.flatMap(Job.JobContext, ({ jobId, logId }) =>
        Effect.suspend(() => {
          const active = activeRuns.get(jobId) ?? 0
          if (active > 0) events.push(`overlap:${logId}`)
          activeRuns.set(jobId, active + 1)
          events.push(`start:${logId}`)
          return Effect.sleep(Duration.millis(ms)).pipe(
            Effect.zipRight(Effect.sync(() => {
              events.push(`end:${logId}`)
              return `slept ${ms}`
            })),
            Effect.ensuring(Effect.sync(() => activeRuns.set(jobId, (activeRuns.get(jobId) ?? 1) - 1)))
          )
        }))
  })

const Sleep = sleeper("sleep")
const SleepB = sleeper("sleepB")
const Ok = Job.make({ name: "ok", run: Effect.void })
const Echo = Job.make({ name: "echo", run: Effect.map(Job.JobContext, (context) => context.params) })
const Boom = Job.make({ name: "boom", run: Job.fail("boom") })
const Throws = Job.make({
  name: "throws",
  run: Effect.sync(() => {
    throw new Error("kaboom from the job")
  })
})
const Long = Job.make({ name: "long", run: Effect.succeed("x".repeat(60_000)) })
const Lines = Job.make({
  name: "lines",
  run: Effect.gen(function*() {
    yield* Effect.log("first line of the job")
    yield* Effect.log("second line of the job")
    return "logged"
  })
})
/** Writes as many numbered lines as its params say. */
const Flood = Job.make({
  name: "flood",
  params: Schema.NumberFromString,
  run: (count) =>
    Effect.gen(function*() {
      for (let i = 0; i < count; i++) yield* Effect.log(`flood line ${i} ` + "x".repeat(80))
      return "flooded"
    })
})
/** Sleeps until the epoch ms in `params`: several of them finish together. */
const Until = Job.make({
  name: "until",
  params: Schema.NumberFromString,
  run: (at) => Effect.as(Effect.sleep(Duration.millis(Math.max(0, at - Date.now()))), "woke")
})

/** Blocks the event loop for 500 ms from its very first step: /run must have answered before. */
const Blocking = Job.make({
  name: "blocking",
  run: Effect.sync(() => {
    const end = Date.now() + 500
    while (Date.now() < end) {
      // busy
    }
    return "blocked"
  })
})

const jobs = Job.registry(Sleep, SleepB, Ok, Echo, Boom, Throws, Long, Lines, Until, Blocking, Flood)

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-"))
afterAll(() => Fs.rmSync(tmp, { recursive: true, force: true }))
let logDirs = 0
const freshLogPath = () => Path.join(tmp, `logs-${++logDirs}`)

/** An executor and a mock admin over HTTP on loopback, logs in a fresh temp dir. */
const httpEnv = (options: ExecutorConfig.Options = {}) =>
  MockAdmin.layerHttp(jobs, { logPath: freshLogPath(), logRetentionDays: 0, ...options })

interface Answer {
  readonly status: number
  readonly text: string
  readonly json: any
}

/** A raw HTTP request to the executor on 127.0.0.1 (no connection reuse); the reply must be HTTP 200 JSON. */
const request = (port: number, options: {
  readonly method?: string
  readonly path: string
  readonly body?: string | undefined
  readonly headers?: Record<string, string>
}) =>
  Effect.async<Answer, Error>((resume) => {
    const headers: Record<string, string> = { ...options.headers }
    if (options.body !== undefined) {
      headers["content-type"] = "application/json;charset=UTF-8"
      headers["content-length"] = String(Buffer.byteLength(options.body))
    }
    const req = Http.request({
      host: "127.0.0.1",
      port,
      method: options.method ?? "POST",
      path: options.path,
      headers,
      agent: false
    }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => text += chunk)
      res.on("end", () => {
        try {
          resume(Effect.succeed({ status: res.statusCode ?? 0, text, json: JSON.parse(text) }))
        } catch (error) {
          resume(Effect.fail(new Error(`not JSON (HTTP ${res.statusCode}): ${text}`, { cause: error })))
        }
      })
    })
    req.on("error", (error) => resume(Effect.fail(error)))
    if (options.body !== undefined) req.end(options.body)
    else req.end()
  })

/** POSTs (or sends `method`) and returns the reply's JSON, after checking the HTTP status is 200. */
const call = (port: number, path: string, body?: string, options: {
  readonly method?: string
  readonly headers?: Record<string, string>
} = {}) =>
  Effect.map(request(port, { path, body, ...options }), (answer) => {
    assert.strictEqual(answer.status, 200, `HTTP status of ${options.method ?? "POST"} ${path}`)
    return answer.json
  })

/** Exact bytes over a socket (e.g. a POST with neither body nor Content-Length, as admin 3.4.2 sends /beat). */
const rawBytes = (port: number, bytes: string) =>
  Effect.async<{ readonly statusLine: string; readonly json: any }, Error>((resume) => {
    const socket = Net.connect(port, "127.0.0.1", () => socket.write(bytes))
    let text = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => text += chunk)
    socket.on("error", (error) => resume(Effect.fail(error)))
    socket.on("close", () => {
      const [head = "", body = ""] = text.split("\r\n\r\n")
      try {
        resume(Effect.succeed({ statusLine: head.split("\r\n")[0] ?? "", json: JSON.parse(body) }))
      } catch (error) {
        resume(Effect.fail(new Error(`bad answer: ${text}`, { cause: error })))
      }
    })
  })

/** A /run body as the Java admin sends it (Gson field order). */
const runBody = (fields: {
  readonly jobId: number
  readonly logId: number
  readonly handler: string
  readonly params?: string
  readonly blockStrategy?: string
  readonly timeout?: number
  readonly glueType?: string | null
  readonly logDateTime?: number
}) => {
  const logDateTime = fields.logDateTime ?? Date.now()
  const body: Record<string, unknown> = {
    jobId: fields.jobId,
    executorHandler: fields.handler,
    executorParams: fields.params ?? "",
    executorBlockStrategy: fields.blockStrategy ?? "SERIAL_EXECUTION",
    executorTimeout: fields.timeout ?? 0,
    logId: fields.logId,
    logDateTime,
    glueType: fields.glueType === undefined ? "BEAN" : fields.glueType,
    glueSource: "",
    glueUpdatetime: logDateTime,
    broadcastIndex: 0,
    broadcastTotal: 1
  }
  if (fields.glueType === null) delete body.glueType
  return JSON.stringify(body)
}

const run = (port: number, fields: Parameters<typeof runBody>[0]) => call(port, "/run", runBody(fields))

/** Success as admins accept it: code 200, msg absent or "Success", nothing else. */
const assertOk = (json: any, what = "reply") => {
  assert.strictEqual(json.code, 200, `${what}: ${JSON.stringify(json)}`)
  assert.isTrue(json.msg === undefined || json.msg === "Success", `${what} msg: ${JSON.stringify(json)}`)
  assert.deepStrictEqual(Object.keys(json).filter((key) => key !== "msg"), ["code"], `${what}: ${JSON.stringify(json)}`)
}

const failure = (msg: string) => ({ code: 500, msg })

/** A callback item as plain data, for exact comparison. */
const plain = (item: { logId: number; logDateTim: number; handleCode: number; handleMsg?: string | undefined }) => ({
  logId: item.logId,
  logDateTim: item.logDateTim,
  handleCode: item.handleCode,
  handleMsg: item.handleMsg
})

/** The result of a run as [code, msg]. */
const resultOf = (admin: MockAdmin.Service, logId: number, timeout: Duration.DurationInput = "5 seconds") =>
  Effect.map(admin.result(logId, timeout), (item) => [item.handleCode, item.handleMsg] as const)

/** Polls `check` every 10 ms; dies after `timeoutMs`. */
const waitForEvent = (event: string) => waitUntil(event, () => events.includes(event))

const localDay = (epochMillis: number) => {
  const date = new Date(epochMillis)
  const pad = (n: number) => String(n).padStart(2, "0")
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
}

// ---------------------------------------------------------------------------------------------------------
// What the executor sends the admin: the mock admin's requests, as sent
// ---------------------------------------------------------------------------------------------------------

/** A request to the admin with its body parsed. */
interface Post extends MockAdmin.AdminRequest {
  readonly json: any
}

/** The requests `admin` got at `endpoint`, in arrival order, bodies parsed. */
const posts = (admin: MockAdmin.Service, endpoint: MockAdmin.Endpoint) =>
  Effect.map(admin.requests, (requests): Array<Post> =>
    requests
      .filter((request) => request.endpoint === endpoint)
      .map((request) => ({ ...request, json: JSON.parse(request.body) })))

/** Every callback item posted to `admin`, as sent (faulted posts included). */
const callbackItems = (admin: MockAdmin.Service) =>
  Effect.map(posts(admin, "callback"), (list): Array<any> => list.flatMap((post) => post.json as Array<any>))

/** Holds once `admin` has taken a result for `logId`. */
const delivered = (admin: MockAdmin.Service, logId: number) =>
  Effect.map(admin.callbacks, (items) => items.some((item) => item.logId === logId))

/** An executor pointed at mock admins served over HTTP, in a scope of its own that the test closes (or the test's scope). */
const startExecutor = (adminAddresses: string | ReadonlyArray<string>, options: ExecutorConfig.Options = {}) =>
  Effect.gen(function*() {
    const logPath = freshLogPath()
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      Executor.layer(jobs).pipe(Layer.provide(ExecutorConfig.layer({
        adminAddresses,
        appName: "test-app",
        host: "127.0.0.1",
        ip: "127.0.0.1",
        port: 0,
        logPath,
        logRetentionDays: 0,
        ...options
      }))),
      scope
    )
    const close = Scope.close(scope, Exit.void)
    yield* Effect.addFinalizer(() => close)
    return { executor: Context.get(context, Executor.Executor), logPath, close }
  })

// ---------------------------------------------------------------------------------------------------------
// Cases 1-6: transport and auth
// ---------------------------------------------------------------------------------------------------------

describe("transport and auth (cases 1-6)", () => {
  it.live("1: a method other than POST is refused, on any path", () =>
    Effect.gen(function*() {
      const { port } = yield* Executor.Executor
      for (const path of ["/beat", "/run", "/log", "/foo"]) {
        assert.deepStrictEqual(
          yield* call(port, path, undefined, { method: "GET" }),
          failure("invalid request, HttpMethod not support.")
        )
      }
      assert.deepStrictEqual(
        yield* call(port, "/beat", "{}", { method: "PUT" }),
        failure("invalid request, HttpMethod not support.")
      )
    }).pipe(Effect.provide(httpEnv())))

  it.live("2: POST /beat with no body, a Content-Length 0 body, \"\", {} (and any other body) is success", () =>
    Effect.gen(function*() {
      const { port } = yield* Executor.Executor
      assertOk(yield* call(port, "/beat"), "no body")
      assertOk(yield* call(port, "/beat", ""), "Content-Length: 0")
      assertOk(yield* call(port, "/beat", "\"\""), "body \"\"")
      assertOk(yield* call(port, "/beat", "{}"), "body {}")
      assertOk(yield* call(port, "/beat", "{bad"), "body ignored")
      // Admin 3.4.2's exact request: no body and no Content-Length header.
      const bare = yield* rawBytes(port, "POST /beat HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
      assert.match(bare.statusLine, /^HTTP\/1\.1 200\b/)
      assertOk(bare.json, "bare POST")
    }).pipe(Effect.provide(httpEnv())))

  it.live("3: with a token configured, a missing or different token is refused on every path; the token passes", () =>
    Effect.gen(function*() {
      const { port } = yield* Executor.Executor
      const wrong = failure("The access token is wrong.")
      assert.deepStrictEqual(yield* call(port, "/beat"), wrong)
      assert.deepStrictEqual(yield* call(port, "/beat", "", { headers: { "XXL-JOB-ACCESS-TOKEN": "t" } }), wrong)
      assert.deepStrictEqual(yield* call(port, "/beat", "", { headers: { "XXL-JOB-ACCESS-TOKEN": "" } }), wrong)
      assert.deepStrictEqual(yield* call(port, "/beat", "", { headers: { "XXL-JOB-ACCESS-TOKEN": "TT" } }), wrong)
      // The token is checked before the path and before the body.
      assert.deepStrictEqual(yield* call(port, "/foo", "{}"), wrong)
      assert.deepStrictEqual(yield* call(port, "/run", "{bad"), wrong)
      assert.deepStrictEqual(yield* run(port, { jobId: 1, logId: 1, handler: "ok" }), wrong)
      assertOk(yield* call(port, "/beat", "", { headers: { "XXL-JOB-ACCESS-TOKEN": "T" } }), "right token")
      // The header name is case-insensitive.
      assertOk(yield* call(port, "/beat", "", { headers: { "xxl-job-access-token": "T" } }), "lower-case header")
    }).pipe(Effect.provide(httpEnv({ accessToken: "T" }))))

  it.live("3: with no token configured, any header or none is accepted", () =>
    Effect.gen(function*() {
      const { port } = yield* Executor.Executor
      assertOk(yield* call(port, "/beat"), "no header")
      assertOk(yield* call(port, "/beat", "", { headers: { "XXL-JOB-ACCESS-TOKEN": "anything" } }), "any header")
      assertOk(yield* call(port, "/beat", "", { headers: { "XXL-JOB-ACCESS-TOKEN": "" } }), "empty header")
    }).pipe(Effect.provide(httpEnv())))

  it.live("4: GET with a wrong token gets the method error (the method is checked first)", () =>
    Effect.gen(function*() {
      const { port } = yield* Executor.Executor
      const method = failure("invalid request, HttpMethod not support.")
      assert.deepStrictEqual(yield* call(port, "/beat", undefined, { method: "GET" }), method)
      assert.deepStrictEqual(
        yield* call(port, "/beat", undefined, { method: "GET", headers: { "XXL-JOB-ACCESS-TOKEN": "wrong" } }),
        method
      )
    }).pipe(Effect.provide(httpEnv({ accessToken: "T" }))))

  it.live("5: routing is an exact match on the raw target, query string included", () =>
    Effect.gen(function*() {
      const { port } = yield* Executor.Executor
      assert.deepStrictEqual(yield* call(port, "/foo", "{}"), failure("invalid request, uri-mapping(/foo) not found."))
      assert.deepStrictEqual(
        yield* call(port, "/run?x=1", runBody({ jobId: 1, logId: 1, handler: "ok" })),
        failure("invalid request, uri-mapping(/run?x=1) not found.")
      )
      assert.deepStrictEqual(
        yield* call(port, "/beat?x=1"),
        failure("invalid request, uri-mapping(/beat?x=1) not found.")
      )
      assert.deepStrictEqual(yield* call(port, "/beat/"), failure("invalid request, uri-mapping(/beat/) not found."))
      assert.deepStrictEqual(yield* call(port, "/BEAT"), failure("invalid request, uri-mapping(/BEAT) not found."))
    }).pipe(Effect.provide(httpEnv())))

  it.live("6: a body that is not a JSON object, or no body, is `request error:` on the endpoints that read one", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      const cases: Array<[string, string | undefined]> = [
        ["/run", "{bad"],
        ["/run", undefined],
        ["/run", ""],
        ["/run", "\"\""],
        ["/run", "null"],
        ["/run", "[]"],
        ["/idleBeat", undefined],
        ["/idleBeat", "{bad"],
        ["/kill", ""],
        ["/log", "{bad"]
      ]
      for (const [path, body] of cases) {
        const json = yield* call(port, path, body)
        const what = `${path} ${JSON.stringify(body)}: ${JSON.stringify(json)}`
        assert.strictEqual(json.code, 500, what)
        assert.isString(json.msg, what)
        assert.isTrue((json.msg as string).startsWith("request error:"), what)
      }
      yield* Effect.sleep(Duration.millis(100))
      assert.deepStrictEqual(yield* admin.callbacks, [])
    }).pipe(Effect.provide(httpEnv())))
})

// ---------------------------------------------------------------------------------------------------------
// Cases 7-17 and 35: /run
// ---------------------------------------------------------------------------------------------------------

describe("body limit", () => {
  it.live("a body over 5 MiB, declared or chunked, is a clear request error, and the executor goes on", () =>
    Effect.gen(function*() {
      const { port } = yield* Executor.Executor
      const tooLarge = failure("request error:request body is larger than the limit of 5242880 bytes.")
      assert.deepStrictEqual(yield* call(port, "/run", "a".repeat(5 * 1024 * 1024 + 1)), tooLarge)
      const chunked = yield* Effect.async<string>((resume) => {
        const req = Http.request(
          { host: "127.0.0.1", port, method: "POST", path: "/run", agent: false },
          (res) => {
            let text = ""
            res.setEncoding("utf8")
            res.on("data", (chunk: string) => text += chunk)
            res.on("end", () => resume(Effect.succeed(text)))
          }
        )
        req.on("error", () => undefined)
        const chunk = "b".repeat(1024 * 1024)
        for (let i = 0; i < 6; i++) req.write(chunk)
        req.end()
      })
      assert.deepStrictEqual(JSON.parse(chunked), tooLarge)
      assertOk(yield* call(port, "/beat"))
    }).pipe(Effect.provide(httpEnv())))
})

describe("/run (cases 7-17, 35)", () => {
  it.live("7, 8, 35: unknown handler, invalid glueType, GLUE_GROOVY: code 500 on /run and no result ever", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      assert.deepStrictEqual(
        yield* run(port, { jobId: 1, logId: 1, handler: "nope" }),
        failure("job handler [nope] not found.")
      )
      assert.deepStrictEqual(
        yield* run(port, { jobId: 2, logId: 2, handler: "ok", glueType: "FOO" }),
        failure("glueType[FOO] is not valid.")
      )
      assert.deepStrictEqual(
        yield* run(port, { jobId: 3, logId: 3, handler: "ok", glueType: null }),
        failure("glueType[null] is not valid.")
      )
      const groovy = yield* run(port, { jobId: 4, logId: 4, handler: "", glueType: "GLUE_GROOVY" })
      assert.strictEqual(groovy.code, 500, JSON.stringify(groovy))
      assert.isString(groovy.msg)
      assert.include(groovy.msg, "GLUE_GROOVY")
      // A later run's result arrives, and none of the refused ones ever did.
      assertOk(yield* run(port, { jobId: 5, logId: 5, handler: "ok" }))
      yield* admin.result(5, "3 seconds")
      yield* Effect.sleep(Duration.millis(100))
      assert.deepStrictEqual((yield* admin.callbacks).map((item) => item.logId), [5])
    }).pipe(Effect.provide(httpEnv())))

  it.live("9: /run answers at once; the result carries logId and logDateTim; the log file is in place", () => {
    const logPath = freshLogPath()
    const triggerTime = new Date(2024, 0, 15, 12, 30, 45, 123).getTime()
    return Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      const started = Date.now()
      assertOk(yield* run(port, { jobId: 9, logId: 101, handler: "sleep", params: "300", logDateTime: triggerTime }))
      assert.isBelow(Date.now() - started, 250, "/run must not wait for the run")
      const item = yield* admin.result(101, "3 seconds")
      assert.deepStrictEqual(plain(item), {
        logId: 101,
        logDateTim: triggerTime,
        handleCode: 200,
        handleMsg: "slept 300"
      })
      assertOk(yield* run(port, { jobId: 10, logId: 102, handler: "ok", logDateTime: triggerTime }))
      const bare = yield* admin.result(102, "3 seconds")
      assert.deepStrictEqual(plain(bare), {
        logId: 102,
        logDateTim: triggerTime,
        handleCode: 200,
        handleMsg: undefined
      })
      const file = Path.join(logPath, "2024-01-15", "101.log")
      assert.isTrue(Fs.existsSync(file), `${file} exists`)
      assert.include(Fs.readFileSync(file, "utf8"), "xxl-job job execute start")
    }).pipe(Effect.provide(httpEnv({ logPath })))
  })

  it.live("9: even a job that blocks from its first step runs only after /run has answered", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { address } = yield* Executor.Executor
      // Timed by a client in another process: the job blocks this process's event loop.
      const body = JSON.stringify({
        jobId: 90,
        executorHandler: "blocking",
        logId: 901,
        logDateTime: 1,
        glueType: "BEAN"
      })
      const script = `const t=Date.now();fetch(${JSON.stringify(address + "run")},{method:"POST",body:${
        JSON.stringify(body)
      }}).then(r=>r.text()).then(x=>console.log(Date.now()-t, x))`
      const output = yield* Effect.promise(() =>
        new Promise<string>((resolve, reject) =>
          ChildProcess.execFile(
            process.execPath,
            ["-e", script],
            (error, stdout) => error ? reject(error) : resolve(stdout)
          )
        )
      )
      const [elapsed, reply] = output.trim().split(" ")
      assert.strictEqual(reply, "{\"code\":200,\"msg\":\"Success\"}")
      assert.isBelow(Number(elapsed), 400)
      assert.deepStrictEqual(yield* resultOf(admin, 901), [200, "blocked"])
    }).pipe(Effect.provide(httpEnv())))

  it.live("10, 11: a failure is 500 with its message, a throw 500 with its text; long messages are cut", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      assertOk(yield* run(port, { jobId: 1, logId: 1, handler: "boom" }))
      assertOk(yield* run(port, { jobId: 2, logId: 2, handler: "throws" }))
      assertOk(yield* run(port, { jobId: 3, logId: 3, handler: "long" }))
      assertOk(yield* run(port, { jobId: 4, logId: 4, handler: "echo", params: "hello-world" }))
      assert.deepStrictEqual(yield* resultOf(admin, 1), [500, "boom"])
      const [code, msg] = yield* resultOf(admin, 2)
      assert.strictEqual(code, 500)
      assert.include(msg, "kaboom from the job")
      const [longCode, longMsg] = yield* resultOf(admin, 3)
      assert.strictEqual(longCode, 200)
      assert.strictEqual(longMsg?.length, 50_003)
      assert.strictEqual(longMsg, "x".repeat(50_000) + "...")
      assert.deepStrictEqual(yield* resultOf(admin, 4), [200, "hello-world"])
    }).pipe(Effect.provide(httpEnv())))

  it.live("12: executorTimeout 1 on a 3 s run gives 502 `job execute timeout ` after about 1 s", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      const started = Date.now()
      assertOk(yield* run(port, { jobId: 12, logId: 1201, handler: "sleep", params: "3000", timeout: 1 }))
      assert.deepStrictEqual(yield* resultOf(admin, 1201), [502, "job execute timeout "])
      const elapsed = Date.now() - started
      assert.isAtLeast(elapsed, 900)
      assert.isBelow(elapsed, 2000)
      assert.notInclude(events, "end:1201")
    }).pipe(Effect.provide(httpEnv())))

  it.live("13: SERIAL_EXECUTION queues a second trigger; runs never overlap and results come in order", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      assertOk(yield* run(port, { jobId: 13, logId: 1301, handler: "sleep", params: "150" }))
      assertOk(yield* run(port, { jobId: 13, logId: 1302, handler: "sleep", params: "50" }))
      // An unknown strategy is serial too.
      assertOk(yield* run(port, { jobId: 13, logId: 1303, handler: "sleep", params: "10", blockStrategy: "WHATEVER" }))
      assert.deepStrictEqual(yield* resultOf(admin, 1301), [200, "slept 150"])
      assert.deepStrictEqual(yield* resultOf(admin, 1302), [200, "slept 50"])
      assert.deepStrictEqual(yield* resultOf(admin, 1303), [200, "slept 10"])
      assert.deepStrictEqual(
        events.filter((event) => /:130\d$/.test(event)),
        ["start:1301", "end:1301", "start:1302", "end:1302", "start:1303", "end:1303"]
      )
      assert.deepStrictEqual((yield* admin.callbacks).map((item) => item.logId), [1301, 1302, 1303])
    }).pipe(Effect.provide(httpEnv())))

  it.live("14: a logId sent again while queued is refused; while running (no longer pending) it is accepted", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      assertOk(yield* run(port, { jobId: 14, logId: 1401, handler: "sleep", params: "200" }))
      assertOk(yield* run(port, { jobId: 14, logId: 1402, handler: "sleep", params: "10" }))
      assert.deepStrictEqual(
        yield* run(port, { jobId: 14, logId: 1402, handler: "sleep", params: "10" }),
        failure("repeat trigger job, logId:1402")
      )
      yield* waitForEvent("start:1401")
      assertOk(yield* run(port, { jobId: 14, logId: 1401, handler: "sleep", params: "10" }), "resend of the running")
      assert.deepStrictEqual(yield* resultOf(admin, 1402), [200, "slept 10"])
      yield* waitUntil("two results for 1401", () => events.filter((e) => e === "end:1401").length === 2)
      yield* Effect.sleep(Duration.millis(100))
      assert.deepStrictEqual(
        (yield* admin.callbacks).map((item) => [item.logId, item.handleMsg]),
        [[1401, "slept 200"], [1402, "slept 10"], [1401, "slept 10"]]
      )
      assert.notInclude(events, "overlap:1401")
    }).pipe(Effect.provide(httpEnv())))

  it.live("15: DISCARD_LATER is refused while the job runs or waits, with no result; accepted when idle", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      assertOk(yield* run(port, { jobId: 15, logId: 1501, handler: "sleep", params: "200" }))
      const discard = failure("block strategy effect：Discard Later")
      assert.deepStrictEqual(
        yield* run(port, { jobId: 15, logId: 1502, handler: "sleep", params: "1", blockStrategy: "DISCARD_LATER" }),
        discard
      )
      yield* waitForEvent("start:1501")
      assert.deepStrictEqual(
        yield* run(port, { jobId: 15, logId: 1503, handler: "sleep", params: "1", blockStrategy: "DISCARD_LATER" }),
        discard
      )
      assert.deepStrictEqual(yield* resultOf(admin, 1501), [200, "slept 200"])
      assertOk(
        yield* run(port, { jobId: 15, logId: 1504, handler: "sleep", params: "1", blockStrategy: "DISCARD_LATER" }),
        "DISCARD_LATER when idle"
      )
      assert.deepStrictEqual(yield* resultOf(admin, 1504), [200, "slept 1"])
      yield* Effect.sleep(Duration.millis(100))
      assert.deepStrictEqual((yield* admin.callbacks).map((item) => item.logId), [1501, 1504])
    }).pipe(Effect.provide(httpEnv())))

  it.live("16: COVER_EARLY kills the running run and the queued ones; the new run runs after the old one ended", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      assertOk(yield* run(port, { jobId: 16, logId: 1601, handler: "sleep", params: "5000" }))
      assertOk(yield* run(port, { jobId: 16, logId: 1602, handler: "sleep", params: "5000" }))
      yield* waitForEvent("start:1601")
      const started = Date.now()
      assertOk(
        yield* run(port, { jobId: 16, logId: 1603, handler: "sleep", params: "20", blockStrategy: "COVER_EARLY" })
      )
      assert.deepStrictEqual(yield* resultOf(admin, 1601), [
        500,
        "block strategy effect：Cover Early [job running, killed]"
      ])
      assert.deepStrictEqual(
        yield* resultOf(admin, 1602),
        [500, "block strategy effect：Cover Early [job not executed, in the job queue, killed.]"]
      )
      assert.deepStrictEqual(yield* resultOf(admin, 1603), [200, "slept 20"])
      assert.isBelow(Date.now() - started, 2000)
      assert.deepStrictEqual(events.filter((event) => /:160\d$/.test(event)), ["start:1601", "start:1603", "end:1603"])
    }).pipe(Effect.provide(httpEnv())))

  it.live("17: another handler on a busy jobId stops the old run (and its queue) and runs the new one", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      assertOk(yield* run(port, { jobId: 7, logId: 1701, handler: "sleep", params: "5000" }))
      assertOk(yield* run(port, { jobId: 7, logId: 1702, handler: "sleep", params: "5000" }))
      yield* waitForEvent("start:1701")
      assertOk(yield* run(port, { jobId: 7, logId: 1703, handler: "sleepB", params: "20" }))
      assert.deepStrictEqual(
        yield* resultOf(admin, 1701),
        [500, "change jobhandler or glue type, and terminate the old job thread. [job running, killed]"]
      )
      assert.deepStrictEqual(
        yield* resultOf(admin, 1702),
        [
          500,
          "change jobhandler or glue type, and terminate the old job thread." +
          " [job not executed, in the job queue, killed.]"
        ]
      )
      assert.deepStrictEqual(yield* resultOf(admin, 1703), [200, "slept 20"])
      assert.notInclude(events, "overlap:1703")
    }).pipe(Effect.provide(httpEnv())))
})

// ---------------------------------------------------------------------------------------------------------
// Cases 19-21: /idleBeat and /kill
// ---------------------------------------------------------------------------------------------------------

describe("/idleBeat and /kill (cases 19-21)", () => {
  it.live("19: /idleBeat is success for an unknown or idle job, busy while it runs or has a queue", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      const busy = failure("job thread is running or has trigger queue.")
      assertOk(yield* call(port, "/idleBeat", JSON.stringify({ jobId: 999 })), "unknown job")
      assertOk(yield* run(port, { jobId: 19, logId: 1901, handler: "sleep", params: "200" }))
      assertOk(yield* run(port, { jobId: 19, logId: 1902, handler: "sleep", params: "100" }))
      assert.deepStrictEqual(yield* call(port, "/idleBeat", JSON.stringify({ jobId: 19 })), busy)
      // Gson leniency: a numeric string is a jobId too.
      assert.deepStrictEqual(yield* call(port, "/idleBeat", JSON.stringify({ jobId: "19" })), busy)
      yield* resultOf(admin, 1901)
      // 1902 now runs, the queue is empty: still busy.
      yield* waitForEvent("start:1902")
      assert.deepStrictEqual(yield* call(port, "/idleBeat", JSON.stringify({ jobId: 19 })), busy)
      yield* resultOf(admin, 1902)
      assertOk(yield* call(port, "/idleBeat", JSON.stringify({ jobId: 19 })), "after the runs")
    }).pipe(Effect.provide(httpEnv())))

  it.live("20: /kill of a job with no thread is success with `job thread already killed.`", () =>
    Effect.gen(function*() {
      const { port } = yield* Executor.Executor
      const json = yield* call(port, "/kill", JSON.stringify({ jobId: 999 }))
      assert.strictEqual(json.code, 200)
      const text = "job thread already killed."
      // ≤3.1 put the text in msg; 3.2+ in content/data with msg "Success" (admins read only the code). Either,
      // or both at once, is right; a payload goes under both names, for every admin.
      const keys = Object.keys(json).sort()
      if (keys.includes("content") || keys.includes("data")) {
        assert.deepStrictEqual(keys, ["code", "content", "data", "msg"])
        assert.strictEqual(json.content, text)
        assert.strictEqual(json.data, text)
        assert.include(["Success", text], json.msg)
      } else {
        assert.deepStrictEqual(json, { code: 200, msg: text })
      }
    }).pipe(Effect.provide(httpEnv())))

  it.live("21: /kill answers at once; the running run and the queued one report the kill; then the job is idle", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      assertOk(yield* run(port, { jobId: 21, logId: 2101, handler: "sleep", params: "5000" }))
      assertOk(yield* run(port, { jobId: 21, logId: 2102, handler: "sleep", params: "5000" }))
      yield* waitForEvent("start:2101")
      const started = Date.now()
      assertOk(yield* call(port, "/kill", JSON.stringify({ jobId: 21 })), "kill")
      assert.isBelow(Date.now() - started, 500)
      assert.deepStrictEqual(yield* resultOf(admin, 2101), [500, "scheduling center kill job. [job running, killed]"])
      assert.deepStrictEqual(
        yield* resultOf(admin, 2102),
        [500, "scheduling center kill job. [job not executed, in the job queue, killed.]"]
      )
      assert.isBelow(Date.now() - started, 2000)
      assertOk(yield* call(port, "/idleBeat", JSON.stringify({ jobId: 21 })), "idle after the kill")
      assert.notInclude(events, "end:2101")
      assert.notInclude(events, "start:2102")
      // A kill of the now threadless job: already killed.
      const again = yield* call(port, "/kill", JSON.stringify({ jobId: 21 }))
      assert.isTrue(
        again.msg === "job thread already killed." || again.data === "job thread already killed.",
        JSON.stringify(again)
      )
    }).pipe(Effect.provide(httpEnv())))
})

// ---------------------------------------------------------------------------------------------------------
// Cases 22-25: /log
// ---------------------------------------------------------------------------------------------------------

describe("/log (cases 22-25)", () => {
  /** A /log page; checks the envelope carries the same payload under `content` and `data`. */
  const readLog = (port: number, body: Record<string, unknown>) =>
    Effect.map(call(port, "/log", JSON.stringify(body)), (json) => {
      assert.strictEqual(json.code, 200, JSON.stringify(json))
      assert.isTrue(json.msg === undefined || json.msg === "Success", JSON.stringify(json))
      assert.deepStrictEqual(json.content, json.data, "content and data")
      assert.isObject(json.data)
      return json.data as { fromLineNum: number; toLineNum: number; logContent: string; isEnd: boolean }
    })

  it.live("22: an unknown logId: `readLog fail, logFile not exists`, isEnd true", () =>
    Effect.gen(function*() {
      const { port } = yield* Executor.Executor
      const json = yield* call(port, "/log", JSON.stringify({ logDateTim: Date.now(), logId: 987654, fromLineNum: 1 }))
      const payload = { fromLineNum: 1, toLineNum: 0, logContent: "readLog fail, logFile not exists", isEnd: true }
      assert.strictEqual(json.code, 200)
      assert.deepStrictEqual(json.content, payload)
      assert.deepStrictEqual(json.data, payload)
    }).pipe(Effect.provide(httpEnv())))

  it.scopedLive("with the Redis store, another executor of the app answers /log for a run it did not execute", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve()
      // An app name of its own per test run, so its Redis keys are its own.
      const appName = `shared-logs-${process.pid}-${Date.now()}`
      const first = yield* startExecutor(admin.url!, { appName, logStore: "redis", logRetentionDays: 1 })
      const second = yield* startExecutor(admin.url!, { appName, logStore: "redis", logRetentionDays: 1 })
      const logDateTim = Date.now()
      assertOk(yield* run(first.executor.port, { jobId: 23, logId: 2301, handler: "lines", logDateTime: logDateTim }))
      yield* waitUntil("the result", delivered(admin, 2301))
      // The first executor goes away (a replaced pod); the second still has the log.
      yield* first.close
      const page = yield* readLog(second.executor.port, { logDateTim, logId: 2301, fromLineNum: 1 })
      assert.include(page.logContent, "xxl-job job execute start")
      assert.include(page.logContent, "xxl-job job execute end(finish)")
      assert.strictEqual(page.toLineNum, page.logContent.split("\n").length - 1)
    }))

  for (const logStore of ["file", "redis"] as const) {
    it.scopedLive(`the ${logStore} store keeps a flooded run's log within its cap: head, marker, tail, end`, () =>
      Effect.gen(function*() {
        const admin = yield* MockAdmin.serve()
        const appName = `capped-${logStore}-${process.pid}-${Date.now()}`
        const { executor } = yield* startExecutor(admin.url!, {
          appName,
          logStore,
          logRetentionDays: 1,
          maxRunLogBytes: 20_000
        })
        const logDateTim = Date.now()
        assertOk(
          yield* run(executor.port, {
            jobId: 24,
            logId: 2401,
            handler: "flood",
            params: "2000",
            logDateTime: logDateTim
          })
        )
        yield* waitUntil("the result", delivered(admin, 2401))
        const text = (yield* readLog(executor.port, { logDateTim, logId: 2401, fromLineNum: 1 })).logContent
        assert.isBelow(Buffer.byteLength(text), 22_000)
        const at = ["flood line 0 ", "log truncated", "flood line 1999 ", "execute end(finish)"].map((part) =>
          text.indexOf(part)
        )
        assert.isTrue(at[0] > 0 && at[0] < at[1] && at[1] < at[2] && at[2] < at[3], `${at}`)
        assert.notInclude(text, "flood line 1000 ")
      }))
  }

  it.live("23, 24, 25: pages of a run's log from line 2, past the end and from 0; the file is Java's layout", () => {
    const logPath = freshLogPath()
    return Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      const logDateTim = Date.now()
      assertOk(yield* run(port, { jobId: 22, logId: 2201, handler: "lines", logDateTime: logDateTim }))
      assert.deepStrictEqual(yield* resultOf(admin, 2201), [200, "logged"])
      const file = Path.join(logPath, localDay(logDateTim), "2201.log")
      // The callback marker is the last line written, after the admin took the result.
      yield* waitUntil(
        "the callback marker",
        () => Fs.existsSync(file) && Fs.readFileSync(file, "utf8").includes("xxl-job job callback finish.")
      )
      const text = Fs.readFileSync(file, "utf8")
      assert.isTrue(text.endsWith("\n"))
      const lines = text.slice(0, -1).split("\n")
      const n = lines.length
      assert.isAtLeast(n, 5)
      assert.include(lines[0], "<br>----------- xxl-job job execute start -----------<br>----------- Param:")
      assert.include(text, "first line of the job")
      assert.include(text, "second line of the job")
      assert.include(text, "<br>----------- xxl-job job execute end(finish) -----------")
      assert.include(lines[n - 1], "<br>----------- xxl-job job callback finish.")

      const whole = yield* readLog(port, { logDateTim, logId: 2201, fromLineNum: 1 })
      assert.deepStrictEqual(whole, { fromLineNum: 1, toLineNum: n, logContent: text, isEnd: false })

      const fromTwo = yield* readLog(port, { logDateTim, logId: 2201, fromLineNum: 2 })
      assert.deepStrictEqual(fromTwo, {
        fromLineNum: 2,
        toLineNum: n,
        logContent: lines.slice(1).map((line) => line + "\n").join(""),
        isEnd: false
      })

      const past = yield* readLog(port, { logDateTim, logId: 2201, fromLineNum: n + 1 })
      assert.strictEqual(past.fromLineNum, n + 1)
      assert.strictEqual(past.logContent, "")
      assert.strictEqual(past.isEnd, false)
      assert.include([n, 0], past.toLineNum)

      const fromZero = yield* readLog(port, { logDateTim, logId: 2201, fromLineNum: 0 })
      assert.strictEqual(fromZero.logContent, text)
      assert.strictEqual(fromZero.toLineNum, n)
      assert.strictEqual(fromZero.isEnd, false)

      // The 3.5 spelling `logDateTime` finds the same file.
      const spelled = yield* readLog(port, { logDateTime: logDateTim, logId: 2201, fromLineNum: 1 })
      assert.strictEqual(spelled.logContent, text)
    }).pipe(Effect.provide(httpEnv({ logPath })))
  })
})

// ---------------------------------------------------------------------------------------------------------
// Cases 26-28: registry
// ---------------------------------------------------------------------------------------------------------

describe("registry (cases 26-28)", () => {
  it.scopedLive("26: registers at start with the token header, then every registry interval", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve({ accessToken: "T" })
      const { executor } = yield* startExecutor(admin.url!, { accessToken: "T", registryIntervalSeconds: 1 })
      assert.strictEqual(executor.address, `http://127.0.0.1:${executor.port}/`)
      yield* waitUntil("two registry beats", Effect.map(posts(admin, "registry"), (list) => list.length >= 2), 3000)
      const [first, second] = yield* posts(admin, "registry")
      assert.strictEqual(first.headers["xxl-job-access-token"], "T")
      assert.match(String(first.headers["content-type"]), /^application\/json/)
      assert.deepStrictEqual(first.json, {
        registryGroup: "EXECUTOR",
        registryKey: "test-app",
        registryValue: executor.address
      })
      assert.deepStrictEqual(second.json, first.json)
      const gap = second.at.getTime() - first.at.getTime()
      assert.isAtLeast(gap, 800)
      assert.isBelow(gap, 1600)
    }))

  it.live("26: through the mock admin, the executor's address is registered and beats repeat", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const executor = yield* Executor.Executor
      assert.deepStrictEqual(yield* admin.executors, [executor.address])
      yield* Effect.sleep(Duration.millis(1300))
      const registrations = yield* admin.registrations
      assert.isAtLeast(registrations.length, 2)
      for (const registration of registrations) {
        assert.deepStrictEqual([registration.kind, registration.appName, registration.address], [
          "registry",
          "beat-app",
          executor.address
        ])
      }
    }).pipe(Effect.provide(httpEnv({ appName: "beat-app", registryIntervalSeconds: 1 }))))

  it.scopedLive("27: with two admins, a code 500 from the first moves on to the second; a success ends the round", () =>
    Effect.gen(function*() {
      const refusing = yield* MockAdmin.serve({ faults: MockAdmin.Fault.Refuse({ msg: "not today" }) })
      const accepting = yield* MockAdmin.serve()
      const spare = yield* MockAdmin.serve()
      const { executor } = yield* startExecutor([refusing.url!, accepting.url!, spare.url!])
      yield* waitUntil(
        "a registry at the second admin",
        Effect.map(accepting.registrations, (list) => list.length >= 1)
      )
      const [refused] = yield* posts(refusing, "registry")
      assert.strictEqual((yield* posts(refusing, "registry")).length, 1)
      assert.strictEqual(refused.fault?._tag, "Refuse")
      assert.isAtMost(refused.at.getTime(), (yield* accepting.registrations)[0].at.getTime())
      // Results take the same path.
      assertOk(yield* run(executor.port, { jobId: 27, logId: 2701, handler: "ok" }))
      yield* waitUntil("a callback at the second admin", delivered(accepting, 2701))
      assert.strictEqual((yield* posts(refusing, "callback")).length, 1)
      assert.deepStrictEqual((yield* callbackItems(accepting)).map((item) => item.logId), [2701])
      yield* Effect.sleep(Duration.millis(100))
      assert.deepStrictEqual(yield* spare.requests, [])
    }))

  it.scopedLive("28: a graceful stop sends one registryRemove and reports running and queued runs before it ends", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve()
      // No grace period: running jobs are interrupted at once (as Java ≤3.3 does).
      const { close, executor } = yield* startExecutor(admin.url!, { shutdownGraceSeconds: 0 })
      yield* waitUntil("registration", Effect.map(admin.registrations, (list) => list.length >= 1))
      const [registered] = yield* posts(admin, "registry")
      // No token configured: the header is still sent, empty (admin 3.3.0/3.3.1 require it).
      assert.strictEqual(registered.headers["xxl-job-access-token"], "")
      assertOk(yield* run(executor.port, { jobId: 28, logId: 2801, handler: "sleep", params: "5000" }))
      assertOk(yield* run(executor.port, { jobId: 28, logId: 2802, handler: "sleep", params: "5000" }))
      yield* waitForEvent("start:2801")
      const started = Date.now()
      yield* close
      assert.isBelow(Date.now() - started, 3000)
      const removes = yield* posts(admin, "registryRemove")
      assert.strictEqual(removes.length, 1)
      assert.deepStrictEqual(removes[0].json, registered.json)
      const items = yield* callbackItems(admin)
      const results = new Map(items.map((item) => [item.logId, [item.handleCode, item.handleMsg]]))
      assert.deepStrictEqual(results.get(2801), [500, "web container destroy and kill the job. [job running, killed]"])
      assert.deepStrictEqual(
        results.get(2802),
        [500, "web container destroy and kill the job. [job not executed, in the job queue, killed.]"]
      )
      assert.strictEqual(items.length, 2)
      assert.notInclude(events, "start:2802")
    }))
})

describe("graceful drain", () => {
  it.scopedLive("runs finish within the grace period, triggers meanwhile are refused, the rest is killed after", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve()
      const { close, executor } = yield* startExecutor(admin.url!, { shutdownGraceSeconds: 1 })
      yield* waitUntil("registration", Effect.map(admin.registrations, (list) => list.length >= 1))
      assertOk(yield* run(executor.port, { jobId: 40, logId: 4001, handler: "sleep", params: "300" }))
      assertOk(yield* run(executor.port, { jobId: 40, logId: 4002, handler: "sleep", params: "200" }))
      assertOk(yield* run(executor.port, { jobId: 41, logId: 4101, handler: "sleep", params: "5000" }))
      yield* waitForEvent("start:4101")
      const closing = yield* Effect.fork(close)
      yield* waitUntil(
        "registryRemove",
        Effect.map(admin.registrations, (list) => list.some((r) => r.kind === "registryRemove"))
      )
      assert.deepStrictEqual(
        yield* run(executor.port, { jobId: 42, logId: 4201, handler: "ok" }),
        failure("executor is shutting down, trigger refused.")
      )
      const started = Date.now()
      yield* closing.await
      assert.isBelow(Date.now() - started, 3000)
      const results = new Map(
        (yield* callbackItems(admin)).map((item) => [item.logId, [item.handleCode, item.handleMsg]])
      )
      // The short runs (the queued one included) finished in the grace period; the long one was killed.
      assert.deepStrictEqual(results.get(4001), [200, "slept 300"])
      assert.deepStrictEqual(results.get(4002), [200, "slept 200"])
      assert.deepStrictEqual(results.get(4101), [500, "web container destroy and kill the job. [job running, killed]"])
      assert.isFalse(results.has(4201))
    }))
})

// ---------------------------------------------------------------------------------------------------------
// Cases 29-31: callbacks
// ---------------------------------------------------------------------------------------------------------

describe("callbacks (cases 29-31)", () => {
  it.scopedLive("29: a callback answered code 500 is posted again, the same items, until a 200; then never again", () =>
    Effect.gen(function*() {
      // The admin refuses callbacks until it has refused one.
      const admin = yield* MockAdmin.serve({ faults: { callback: MockAdmin.Fault.Refuse({ msg: "admin busy" }) } })
      const callbackPosts = posts(admin, "callback")
      const { executor, logPath } = yield* startExecutor(admin.url!)
      const logDateTim = Date.now()
      assertOk(
        yield* run(executor.port, { jobId: 29, logId: 2901, handler: "echo", params: "once", logDateTime: logDateTim })
      )
      yield* waitUntil("a first callback post", Effect.map(callbackPosts, (list) => list.length >= 1))
      yield* admin.clearFault("callback")
      yield* waitUntil("a second callback post", Effect.map(callbackPosts, (list) => list.length >= 2), 5000)
      const [first, second] = yield* callbackPosts
      assert.strictEqual(first.fault?._tag, "Refuse")
      assert.isUndefined(second.fault)
      assert.deepStrictEqual(first.json, [
        {
          logId: 2901,
          logDateTim,
          handleCode: 200,
          handleMsg: "once",
          executeResult: { code: 200, msg: "once" }
        }
      ])
      assert.deepStrictEqual(second.json, first.json)
      assert.isAtLeast(second.at.getTime() - first.at.getTime(), 800)
      // Accepted: not sent again.
      yield* Effect.sleep(Duration.millis(400))
      assert.strictEqual((yield* callbackPosts).length, 2)
      assert.deepStrictEqual((yield* admin.callbacks).map((item) => item.logId), [2901])
      // The run's log says the first attempt failed and the delivery finished.
      const file = Path.join(logPath, localDay(logDateTim), "2901.log")
      yield* waitUntil(
        "the callback marker",
        () => Fs.existsSync(file) && Fs.readFileSync(file, "utf8").includes("xxl-job job callback finish.")
      )
      const text = Fs.readFileSync(file, "utf8")
      assert.include(text, "<br>----------- xxl-job job callback fail, callbackResult:")
      assert.isBelow(
        text.indexOf("xxl-job job callback fail"),
        text.indexOf("xxl-job job callback finish.")
      )
    }))

  it.scopedLive("30: results finishing together are batched into one POST array (within callbackBatchSize)", () =>
    Effect.gen(function*() {
      // The admin is slow to answer, so results pile up behind the first POST as in Java's drainTo.
      const admin = yield* MockAdmin.serve({
        faults: { callback: MockAdmin.Fault.Slow({ delay: Duration.millis(250) }) }
      })
      const { executor } = yield* startExecutor(admin.url!, { callbackBatchSize: 3 })
      const at = Date.now() + 300
      const logIds = [3001, 3002, 3003, 3004, 3005]
      for (const [i, logId] of logIds.entries()) {
        assertOk(yield* run(executor.port, { jobId: 300 + i, logId, handler: "until", params: String(at) }))
      }
      yield* waitUntil("all five results", Effect.map(admin.callbacks, (items) => items.length >= 5), 4000)
      const batches = yield* posts(admin, "callback")
      const sizes = batches.map((post) => (post.json as Array<unknown>).length)
      assert.deepStrictEqual((yield* callbackItems(admin)).map((item) => item.logId).sort(), logIds)
      assert.isTrue(batches.every((post) => Array.isArray(post.json)), "every body is a JSON array")
      assert.isTrue(sizes.every((size) => size <= 3), `batches within the limit: ${sizes}`)
      assert.isTrue(sizes.some((size) => size >= 2), `some batch carries several results: ${sizes}`)
      assert.isBelow(batches.length, 5)
    }))

  it.scopedLive("31: every callback item carries handleCode and executeResult.code (and msg) with equal values", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve()
      const { executor } = yield* startExecutor(admin.url!)
      const logDateTim = Date.now()
      assertOk(yield* run(executor.port, { jobId: 311, logId: 3101, handler: "ok", logDateTime: logDateTim }))
      assertOk(yield* run(executor.port, { jobId: 312, logId: 3102, handler: "boom", logDateTime: logDateTim }))
      assertOk(
        yield* run(executor.port, {
          jobId: 313,
          logId: 3103,
          handler: "sleep",
          params: "3000",
          timeout: 1,
          logDateTime: logDateTim
        })
      )
      yield* waitUntil("three results", Effect.map(admin.callbacks, (items) => items.length >= 3), 4000)
      const items = yield* callbackItems(admin)
      const byLogId = new Map(items.map((item) => [item.logId, item]))
      assert.deepStrictEqual(byLogId.get(3101), {
        logId: 3101,
        logDateTim,
        handleCode: 200,
        executeResult: { code: 200 }
      })
      assert.deepStrictEqual(byLogId.get(3102), {
        logId: 3102,
        logDateTim,
        handleCode: 500,
        handleMsg: "boom",
        executeResult: { code: 500, msg: "boom" }
      })
      assert.deepStrictEqual(byLogId.get(3103), {
        logId: 3103,
        logDateTim,
        handleCode: 502,
        handleMsg: "job execute timeout ",
        executeResult: { code: 502, msg: "job execute timeout " }
      })
      for (const item of items) {
        assert.strictEqual(item.executeResult.code, item.handleCode)
        assert.strictEqual(item.executeResult.msg, item.handleMsg)
      }
    }))
})

describe("the start-up line", () => {
  it.scopedLive("says 'registering as' only when the executor registers, 'reachable at' otherwise", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ message }) => void lines.push(Array.isArray(message) ? message.join(" ") : String(message)))
      )
      const alone = yield* startExecutor([]).pipe(Effect.provide(capture))
      assert.isTrue(lines.some((line) => line.includes(`reachable at ${alone.executor.address}`)))
      assert.isFalse(lines.some((line) => line.includes("registering as")))
      yield* alone.close
      lines.length = 0
      // An admin that is not there: the executor still says where it registers, and keeps trying.
      const registering = yield* startExecutor("http://127.0.0.1:1/xxl-job-admin").pipe(Effect.provide(capture))
      assert.isTrue(lines.some((line) => line.includes(`registering as ${registering.executor.address}`)))
    }))
})
