/**
 * The black-box cases of the protocol doc (section 11), end to end over real HTTP on loopback: a mock admin,
 * an executor, and raw requests where the case is about the transport.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Executor, ExecutorConfig, Job, JobLog, MockAdmin } from "../src/index.js"

const running = new Set<number>()
let overlaps = 0

const Echo = Job.make({ name: "echo", run: Effect.map(Job.JobContext, (context) => context.params) })
const Other = Job.make({ name: "other", run: Effect.succeed("other") })
const Boom = Job.make({ name: "boom", run: Job.fail("boom") })
const Throws = Job.make({
  name: "throws",
  run: Effect.sync(() => {
    throw new Error("thrown from the job")
  })
})
const Long = Job.make({ name: "long", run: Effect.succeed("y".repeat(60_000)) })
const Sleep = Job.make({
  name: "sleep",
  run: Effect.gen(function*() {
    const { jobId, params } = yield* Job.JobContext
    if (running.has(jobId)) overlaps++
    running.add(jobId)
    yield* Effect.log("sleeping").pipe(Effect.zipRight(Effect.sleep(Duration.millis(Number(params || "100")))))
    return "slept"
  }).pipe(Effect.ensuring(Effect.flatMap(Job.JobContext, ({ jobId }) => Effect.sync(() => running.delete(jobId)))))
})
const Lines = Job.make({
  name: "lines",
  run: Effect.gen(function*() {
    yield* Effect.log("line a")
    yield* Effect.log("line b")
  })
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
const jobs = Job.registry(Echo, Other, Boom, Throws, Long, Sleep, Lines, Blocking)

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-conf-"))

interface Raw {
  readonly status: number
  readonly body: any
}

/** A raw request to the executor: method, path and headers as given, body as bytes. */
const raw = (address: string, options: {
  readonly method?: string
  readonly path: string
  readonly body?: string | undefined
  readonly headers?: Record<string, string>
}) =>
  Effect.async<Raw>((resume) => {
    const url = new URL(address)
    const req = Http.request({
      host: url.hostname,
      port: url.port,
      method: options.method ?? "POST",
      path: options.path,
      headers: options.headers ?? {}
    }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (chunk) => text += chunk)
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body: JSON.parse(text) })))
    })
    req.on("error", (error) => resume(Effect.die(error)))
    req.end(options.body)
  })

/** Polls `self` every 10 ms until `done` holds, and gives that value. */
const until = <A, E, R>(self: Effect.Effect<A, E, R>, done: (a: A) => boolean): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    self,
    (a) => done(a) ? Effect.succeed(a) : Effect.zipRight(Effect.sleep(Duration.millis(10)), until(self, done))
  )

describe("conformance: transport and auth (cases 1-6)", () => {
  it.live("with a token configured", () =>
    Effect.gen(function*() {
      const { address } = yield* Executor.Executor
      const token = { "XXL-JOB-ACCESS-TOKEN": "T" }
      // 1, 4: the method is checked first, whatever the token.
      for (const headers of [token, {}, { "XXL-JOB-ACCESS-TOKEN": "wrong" }]) {
        const reply = yield* raw(address, { method: "GET", path: "/beat", headers })
        assert.deepStrictEqual(reply, {
          status: 200,
          body: { code: 500, msg: "invalid request, HttpMethod not support." }
        })
      }
      // 2: no body, "" and {} all beat.
      for (const body of [undefined, "\"\"", "{}"]) {
        assert.deepStrictEqual((yield* raw(address, { path: "/beat", body, headers: token })).body, {
          code: 200,
          msg: "Success"
        })
      }
      // 3: missing or differently-cased token is wrong.
      for (const headers of [{}, { "XXL-JOB-ACCESS-TOKEN": "t" }]) {
        assert.deepStrictEqual((yield* raw(address, { path: "/beat", headers })).body, {
          code: 500,
          msg: "The access token is wrong."
        })
      }
      // 5: unknown paths, and a query string breaks the match, as in Java.
      assert.deepStrictEqual((yield* raw(address, { path: "/foo", body: "{}", headers: token })).body, {
        code: 500,
        msg: "invalid request, uri-mapping(/foo) not found."
      })
      assert.deepStrictEqual((yield* raw(address, { path: "/run?x=1", body: "{}", headers: token })).body, {
        code: 500,
        msg: "invalid request, uri-mapping(/run?x=1) not found."
      })
      // 6: unreadable bodies are "request error:".
      for (const body of ["{bad", "", "[]", "null", "\"x\"", "{\"jobId\":\"abc\"}"]) {
        const reply = yield* raw(address, { path: "/run", body, headers: token })
        assert.strictEqual(reply.status, 200)
        assert.strictEqual(reply.body.code, 500)
        assert.match(reply.body.msg, /^request error:/)
      }
      // The 5 MiB limit: refused with a clear error, declared or not.
      const big = "a".repeat(5 * 1024 * 1024 + 1)
      const tooBig = yield* raw(address, { path: "/run", body: big, headers: token })
      assert.deepStrictEqual(tooBig.body, {
        code: 500,
        msg: "request error:request body is larger than the limit of 5242880 bytes."
      })
      assert.deepStrictEqual((yield* raw(address, { path: "/beat", headers: token })).body.code, 200)
    }).pipe(Effect.provide(MockAdmin.layerHttp(jobs, { accessToken: "T", logPath: tempDir() }))))

  it.live("without a token any header or none is accepted", () =>
    Effect.gen(function*() {
      const { address } = yield* Executor.Executor
      for (const headers of [{}, { "XXL-JOB-ACCESS-TOKEN": "anything" }]) {
        assert.deepStrictEqual((yield* raw(address, { path: "/beat", headers })).body, { code: 200, msg: "Success" })
      }
    }).pipe(Effect.provide(MockAdmin.layerHttp(jobs, { logPath: tempDir() }))))
})

describe("conformance: /run, /idleBeat, /kill, /log (cases 7-25, 35)", () => {
  // Each test has an admin of its own, whose logIds start at 1: each gets its own log folder too.
  const Env = (logPath = tempDir()) => MockAdmin.layerHttp(jobs, { logPath })

  it.live("7, 8, 35: unknown handler, invalid and unsupported glue types are refused, with no result", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      assert.deepStrictEqual((yield* admin.trigger({ handler: "nope", logId: 7001 })).reply, {
        code: 500,
        msg: "job handler [nope] not found."
      })
      assert.deepStrictEqual((yield* admin.trigger({ handler: "", glueType: "FOO", logId: 7002 })).reply, {
        code: 500,
        msg: "glueType[FOO] is not valid."
      })
      const groovy = yield* admin.trigger({ handler: "", glueType: "GLUE_GROOVY", logId: 7003 })
      assert.strictEqual(groovy.reply.code, 500)
      yield* admin.run({ handler: "other", logId: 7004 })
      assert.deepStrictEqual((yield* admin.callbacks).map((c) => c.logId), [7004])
    }).pipe(Effect.provide(Env())))

  it.live("9: a run answers at once, reports 200 with logDateTim, and writes {logPath}/{day}/{logId}.log", () => {
    const logPath = tempDir()
    return Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const D = Date.now()
      const triggered = yield* admin.trigger({ handler: "sleep", params: "300", logId: 101, logDateTime: D })
      assert.deepStrictEqual(triggered.reply, { code: 200, msg: "Success" })
      assert.deepStrictEqual((yield* admin.callbacks).length, 0)
      const result = yield* admin.result(101)
      assert.deepStrictEqual({ ...result }, { logId: 101, logDateTim: D, handleCode: 200, handleMsg: "slept" })
      const file = Path.join(logPath, JobLog.dayOf(D), "101.log")
      assert.include(Fs.readFileSync(file, "utf8"), "xxl-job job execute start")
      // Even a job that blocks from its first step runs only after /run has answered: timed by a client in
      // another process, since this one's event loop is the one the job blocks.
      const { address } = yield* Executor.Executor
      const body = JSON.stringify({
        jobId: 90,
        executorHandler: "blocking",
        logId: 901,
        logDateTime: D,
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
      assert.strictEqual((yield* admin.result(901)).handleMsg, "blocked")
    }).pipe(Effect.provide(Env(logPath)))
  })

  it.live("10, 11: failures carry their message; long messages are cut at 50000 + '...'", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const boom = yield* admin.run({ handler: "boom" })
      assert.deepStrictEqual([boom.result.handleCode, boom.result.handleMsg], [500, "boom"])
      const thrown = yield* admin.run({ handler: "throws" })
      assert.strictEqual(thrown.result.handleCode, 500)
      assert.include(thrown.result.handleMsg, "thrown from the job")
      const long = yield* admin.run({ handler: "long" })
      assert.strictEqual(long.result.handleMsg, "y".repeat(50_000) + "...")
    }).pipe(Effect.provide(Env())))

  it.live("12: executorTimeout 1 s on a 3 s job reports 502 'job execute timeout ' after about 1 s", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const started = Date.now()
      const { result } = yield* admin.run({ handler: "sleep", params: "3000", timeoutSeconds: 1 })
      const elapsed = Date.now() - started
      assert.deepStrictEqual([result.handleCode, result.handleMsg], [502, "job execute timeout "])
      assert.isAtLeast(elapsed, 950)
      assert.isBelow(elapsed, 2500)
    }).pipe(Effect.provide(Env())))

  it.live("13, 14: serial triggers run in order without overlap; a logId still queued is a repeat", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      overlaps = 0
      const first = yield* admin.trigger({ handler: "sleep", jobId: 13, logId: 1301, params: "150" })
      const second = yield* admin.trigger({ handler: "sleep", jobId: 13, logId: 1302, params: "50" })
      const repeat = yield* admin.trigger({ handler: "sleep", jobId: 13, logId: 1302, params: "50" })
      assert.deepStrictEqual([first.reply.code, second.reply.code], [200, 200])
      assert.deepStrictEqual(repeat.reply, { code: 500, msg: "repeat trigger job, logId:1302" })
      yield* admin.result(1302)
      assert.deepStrictEqual((yield* admin.callbacks).map((c) => c.logId), [1301, 1302])
      assert.strictEqual(overlaps, 0)
    }).pipe(Effect.provide(Env())))

  it.live("15, 16: DISCARD_LATER refuses while busy; COVER_EARLY kills the running and queued runs", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.trigger({ handler: "sleep", jobId: 15, logId: 1501, params: "2000" })
      const discarded = yield* admin.trigger({
        handler: "sleep",
        jobId: 15,
        logId: 1502,
        blockStrategy: "DISCARD_LATER"
      })
      assert.deepStrictEqual(discarded.reply, { code: 500, msg: "block strategy effect：Discard Later" })
      yield* admin.trigger({ handler: "sleep", jobId: 15, logId: 1503, params: "2000" })
      const cover = yield* admin.trigger({
        handler: "sleep",
        jobId: 15,
        logId: 1504,
        params: "10",
        blockStrategy: "COVER_EARLY"
      })
      assert.deepStrictEqual(cover.reply, { code: 200, msg: "Success" })
      assert.strictEqual(
        (yield* admin.result(1501)).handleMsg,
        "block strategy effect：Cover Early [job running, killed]"
      )
      assert.strictEqual(
        (yield* admin.result(1503)).handleMsg,
        "block strategy effect：Cover Early [job not executed, in the job queue, killed.]"
      )
      assert.strictEqual((yield* admin.result(1504)).handleCode, 200)
      assert.isFalse((yield* admin.callbacks).some((c) => c.logId === 1502))
    }).pipe(Effect.provide(Env())))

  it.live("17: another handler on a busy jobId replaces the lane and kills the old run", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      yield* admin.trigger({ handler: "sleep", jobId: 17, logId: 1701, params: "2000" })
      assert.strictEqual((yield* admin.trigger({ handler: "other", jobId: 17, logId: 1702 })).reply.code, 200)
      assert.strictEqual(
        (yield* admin.result(1701)).handleMsg,
        "change jobhandler or glue type, and terminate the old job thread. [job running, killed]"
      )
      assert.strictEqual((yield* admin.result(1702)).handleMsg, "other")
    }).pipe(Effect.provide(Env())))

  it.live("19, 20, 21: idleBeat, kill of an unknown job, kill of a running and a queued run", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      assert.deepStrictEqual(yield* admin.idleBeat(999), { code: 200, msg: "Success" })
      const unknown = yield* admin.kill(999)
      assert.strictEqual(unknown.code, 200)
      assert.strictEqual(unknown.data, "job thread already killed.")
      assert.strictEqual(unknown.content, "job thread already killed.")
      yield* admin.trigger({ handler: "sleep", jobId: 21, logId: 2101, params: "5000" })
      yield* admin.trigger({ handler: "sleep", jobId: 21, logId: 2102, params: "5000" })
      assert.deepStrictEqual(yield* admin.idleBeat(21), {
        code: 500,
        msg: "job thread is running or has trigger queue."
      })
      const started = Date.now()
      assert.deepStrictEqual(yield* admin.kill(21), { code: 200, msg: "Success" })
      assert.strictEqual((yield* admin.result(2101)).handleMsg, "scheduling center kill job. [job running, killed]")
      assert.strictEqual(
        (yield* admin.result(2102)).handleMsg,
        "scheduling center kill job. [job not executed, in the job queue, killed.]"
      )
      assert.isBelow(Date.now() - started, 1000)
      assert.deepStrictEqual(yield* admin.idleBeat(21), { code: 200, msg: "Success" })
    }).pipe(Effect.provide(Env())))

  it.live("22-25: /log pages a run's log; unknown logIds say the file does not exist", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const missing = yield* admin.call(
        "/log",
        JSON.stringify({ logDateTim: Date.now(), logId: 424242, fromLineNum: 1 })
      )
      const expected = { fromLineNum: 1, toLineNum: 0, logContent: "readLog fail, logFile not exists", isEnd: true }
      assert.deepStrictEqual(missing, { code: 200, msg: "Success", content: expected, data: expected })
      const { triggered } = yield* admin.run({ handler: "lines" })
      // start, "line a", "line b", end; the callback marker follows once the admin took the result.
      const all = yield* until(admin.log(triggered.logId, 0), (page) => page.toLineNum >= 5)
      const lines = all.logContent.split("\n")
      assert.strictEqual(lines.pop(), "")
      assert.strictEqual(lines.length, all.toLineNum)
      assert.include(lines[1], "line a")
      assert.strictEqual(lines[4], "<br>----------- xxl-job job callback finish.")
      const fromTwo = yield* admin.log(triggered.logId, 2)
      assert.strictEqual(fromTwo.logContent, lines.slice(1).join("\n") + "\n")
      assert.deepStrictEqual([fromTwo.fromLineNum, fromTwo.toLineNum, fromTwo.isEnd], [2, 5, false])
      const past = yield* admin.log(triggered.logId, 6)
      assert.deepStrictEqual([past.logContent, past.isEnd], ["", false])
      assert.isAbove(past.fromLineNum, past.toLineNum)
    }).pipe(Effect.provide(Env())))
})

describe("conformance: registry and callbacks (cases 26-31)", () => {
  it.live("26, 28: registers with the admin and beats; on stop removes itself and reports queued triggers", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        MockAdmin.layerHttp(jobs, { logPath: tempDir(), registryIntervalSeconds: 1, appName: "beat-app" }),
        scope
      )
      const admin = context.unsafeMap.get(MockAdmin.MockAdmin.key) as MockAdmin.Service
      const { address } = context.unsafeMap.get(Executor.Executor.key) as Executor.Service
      yield* until(admin.registrations, (list) => list.length >= 2)
      const [first, second] = yield* admin.registrations
      assert.deepStrictEqual([first.kind, first.appName, first.address], ["registry", "beat-app", address])
      assert.match(address, /^http:\/\/127\.0\.0\.1:\d+\/$/)
      const gap = second.at.getTime() - first.at.getTime()
      assert.isAtLeast(gap, 900)
      assert.isBelow(gap, 1500)
      yield* admin.trigger({ handler: "sleep", jobId: 28, logId: 2801, params: "5000" })
      yield* admin.trigger({ handler: "sleep", jobId: 28, logId: 2802, params: "5000" })
      yield* Scope.close(scope, Exit.void)
      const registrations = yield* admin.registrations
      assert.deepStrictEqual(registrations.at(-1)?.kind, "registryRemove")
      const byLogId = new Map((yield* admin.callbacks).map((c) => [c.logId, c.handleMsg]))
      assert.strictEqual(byLogId.get(2801), "web container destroy and kill the job. [job running, killed]")
      assert.strictEqual(
        byLogId.get(2802),
        "web container destroy and kill the job. [job not executed, in the job queue, killed.]"
      )
    }))

  /** A raw admin: answers callbacks with `answers` in turn (then 200), recording each callback body. */
  const rawAdmin = (answers: Array<string>) =>
    Effect.acquireRelease(
      Effect.async<{ url: string; callbacks: Array<any>; server: Http.Server }>((resume) => {
        const callbacks: Array<any> = []
        const server = Http.createServer((req, res) => {
          let body = ""
          req.on("data", (chunk) => body += chunk)
          req.on("end", () => {
            let answer = "{\"code\":200,\"msg\":null}"
            if (req.url?.endsWith("/api/callback")) {
              callbacks.push(JSON.parse(body))
              answer = answers.shift() ?? answer
            }
            res.writeHead(200, { "content-type": "application/json" })
            res.end(answer)
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as AddressInfo).port
          resume(Effect.succeed({ url: `http://127.0.0.1:${port}/xxl-job-admin`, callbacks, server }))
        })
      }),
      ({ server }) =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )

  const executorFor = (adminUrl: string) =>
    Layer.build(
      Executor.layer(jobs).pipe(Layer.provide(ExecutorConfig.layer({
        adminAddresses: adminUrl,
        appName: "raw-app",
        host: "127.0.0.1",
        ip: "127.0.0.1",
        port: 0,
        logPath: tempDir()
      })))
    ).pipe(Effect.map((context) => context.unsafeMap.get(Executor.Executor.key) as Executor.Service))

  const trigger = (address: string, logId: number, jobId = logId) =>
    raw(address, {
      path: "/run",
      body: JSON.stringify({
        jobId,
        executorHandler: "echo",
        executorParams: `p${logId}`,
        logId,
        logDateTime: 1795459206267,
        glueType: "BEAN"
      })
    })

  it.scopedLive("29: a callback the admin refuses is sent again until accepted, and not after", () =>
    Effect.gen(function*() {
      const admin = yield* rawAdmin(["{\"code\":500,\"msg\":\"db down\"}", "<html>login</html>"])
      const { address } = yield* executorFor(admin.url)
      assert.strictEqual((yield* trigger(address, 2901)).body.code, 200)
      yield* until(Effect.sync(() => admin.callbacks.length), (n) => n >= 3)
      yield* Effect.sleep(Duration.millis(300))
      const sent = admin.callbacks.map((batch) => batch.map((item: any) => item.logId))
      assert.deepStrictEqual(sent, [[2901], [2901], [2901]])
    }))

  it.scopedLive("30, 31: results finishing together go in one batch; handleCode equals executeResult.code", () =>
    Effect.gen(function*() {
      const admin = yield* rawAdmin(["{\"code\":500}"])
      const { address } = yield* executorFor(admin.url)
      // The first callback is refused: while it waits to be retried, the other results pile up.
      yield* trigger(address, 3000)
      yield* until(Effect.sync(() => admin.callbacks.length), (n) => n >= 1)
      yield* Effect.forEach([3001, 3002, 3003, 3004], (logId) => trigger(address, logId), { concurrency: 4 })
      yield* until(
        Effect.sync(() => admin.callbacks.flat().length),
        (n) => n >= 6
      )
      // The refused batch is retried as it was; the four that finished meanwhile go together in the next.
      assert.deepStrictEqual(admin.callbacks[1].map((item: any) => item.logId), [3000])
      assert.deepStrictEqual(admin.callbacks[2].map((item: any) => item.logId).sort(), [3001, 3002, 3003, 3004])
      for (const item of admin.callbacks.flat()) {
        assert.strictEqual(item.handleCode, 200)
        assert.deepStrictEqual(item.executeResult, { code: item.handleCode, msg: item.handleMsg })
        assert.strictEqual(item.logDateTim, 1795459206267)
      }
    }))
})
