/**
 * Isolated jobs (worker threads) and Promise jobs, over real HTTP on loopback: a CPU-bound isolated job is
 * killed and timed out while the executor keeps answering `/beat`; results, typed failures and logs come
 * back from the worker; a Promise job's signal is aborted when it is killed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Schema } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"
import * as Url from "node:url"
import { Executor, Isolated, Job } from "../src/index.js"
import { locate } from "../src/internal/isolatedModule.js"
import { MockAdmin } from "../src/testing.js"
import { alive, logOf, waitForLog } from "./helpers/runs.js"
import { tempDir } from "./helpers/tempDirs.js"

const fixture = new URL("./fixtures/isolated-jobs.mjs", import.meta.url)

/** The fixture's jobs, run in threads or in processes. */
const isolatedJobs = (mode: "thread" | "process") => {
  const isolated = (name: string, exportName: string) =>
    Isolated.make({ name, module: fixture, export: exportName, in: mode })
  return [
    Isolated.make({
      name: "echo",
      module: fixture,
      in: mode,
      params: Schema.parseJson(Schema.Struct({ n: Schema.Number }))
    }),
    isolated("spin", "spin"),
    isolated("fails", "fails"),
    isolated("failsTyped", "failsTyped"),
    isolated("exits", "exits"),
    isolated("missing", "noSuchExport"),
    isolated("spawnsAndSpins", "spawnsAndSpins"),
    Isolated.make({
      name: "hogs",
      module: fixture,
      export: "hogs",
      in: mode,
      resourceLimits: { maxOldGenerationSizeMb: 32 }
    })
  ] as const
}

/** Promise jobs: `abortedBy` records why each run's signal was aborted. */
const abortedBy = new Map<number, string>()
const PromiseWaits = Job.fromPromise({
  name: "promiseWaits",
  run: (context, signal) =>
    new Promise<string>((_resolve, reject) => {
      context.log("waiting for the signal")
      signal.addEventListener("abort", () => {
        abortedBy.set(context.logId, String(signal.reason))
        reject(signal.reason)
      })
    })
})
const PromiseTyped = Job.fromPromise({
  name: "promiseTyped",
  params: Schema.NumberFromString,
  run: async (context) => {
    context.log(`doubling ${context.params}`)
    if (context.params < 0) throw new Job.JobFailed({ message: "negative params" })
    if (context.params === 0) throw new Error("zero is not allowed")
    return `${context.params * 2} (from ${context.rawParams}, shard ${context.shardIndex}/${context.shardTotal})`
  }
})

const env = (mode: "thread" | "process") =>
  MockAdmin.layerHttp(Job.registry(...isolatedJobs(mode), PromiseWaits, PromiseTyped), { logRetentionDays: 0 })

/** One raw POST /beat: how long the executor took to answer. */
const beatMillis = (port: number) =>
  Effect.async<number>((resume) => {
    const started = performance.now()
    const request = Http.request({ host: "127.0.0.1", port, path: "/beat", method: "POST" }, (response) => {
      response.resume()
      response.on("end", () => resume(Effect.succeed(performance.now() - started)))
    })
    request.on("error", (error) => resume(Effect.die(error)))
    request.end()
  })

/** The slowest of `count` beats sent one after another. */
const slowestBeat = (port: number, count: number) =>
  Effect.gen(function*() {
    let slowest = 0
    for (let i = 0; i < count; i++) {
      slowest = Math.max(slowest, yield* beatMillis(port))
      yield* Effect.sleep(Duration.millis(20))
    }
    return slowest
  })

describe.each(["thread", "process"] as const)("isolated jobs in a %s", (mode) => {
  it.live("a CPU-bound job is killed for real, and /beat answers at once while it spins", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      const { jobId, logId } = yield* admin.trigger({ handler: "spin" })
      yield* waitForLog(admin, logId, "spinning")
      assert.isBelow(yield* slowestBeat(port, 10), 500)
      assert.strictEqual((yield* admin.kill(jobId)).code, 200)
      const result = yield* admin.result(logId, "5 seconds")
      assert.deepStrictEqual([result.handleCode, result.handleMsg], [
        500,
        "scheduling center kill job. [job running, killed]"
      ])
      // The job's lane is free again: the next trigger runs.
      assert.strictEqual((yield* admin.run({ handler: "echo", params: "{\"n\":1}" })).result.handleCode, 200)
    }).pipe(Effect.provide(env(mode))))

  it.live("a CPU-bound job times out (502) while /beat stays responsive", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { port } = yield* Executor.Executor
      const { logId } = yield* admin.trigger({ handler: "spin", timeoutSeconds: 1 })
      yield* waitForLog(admin, logId, "spinning")
      assert.isBelow(yield* slowestBeat(port, 5), 500)
      const result = yield* admin.result(logId, "5 seconds")
      assert.deepStrictEqual([result.handleCode, result.handleMsg], [502, "job execute timeout "])
    }).pipe(Effect.provide(env(mode))))

  it.live("COVER_EARLY terminates the spinning run and starts the new one", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const first = yield* admin.trigger({ handler: "spin", jobId: 5 })
      yield* waitForLog(admin, first.logId, "spinning")
      const second = yield* admin.trigger({ handler: "spin", jobId: 5, blockStrategy: "COVER_EARLY" })
      assert.strictEqual(
        (yield* admin.result(first.logId, "5 seconds")).handleMsg,
        "block strategy effect：Cover Early [job running, killed]"
      )
      yield* waitForLog(admin, second.logId, "spinning")
      yield* admin.kill(5)
      assert.strictEqual((yield* admin.result(second.logId, "5 seconds")).handleCode, 500)
    }).pipe(Effect.provide(env(mode))))

  it.live("params decoded in the executor, shard info, logs from context.log and the console, the result", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { result, triggered } = yield* admin.run({
        handler: "echo",
        params: "{\"n\":41}",
        shardIndex: 2,
        shardTotal: 4
      })
      assert.strictEqual(result.handleCode, 200)
      assert.strictEqual(result.handleMsg, `{"n":41}|{"n":41}|2|4|${triggered.logId}`)
      const log = yield* logOf(admin, triggered.logId)
      assert.include(log, "params {\"n\":41}")
      assert.include(log, "from console.log { shard: 2 }")
      assert.include(log, "from console.error")
      assert.include(log, "from stdout.write\nand a partial line\n")
      // Params that do not decode never reach a worker.
      const bad = yield* admin.run({ handler: "echo", params: "{\"n\":\"x\"}" })
      assert.strictEqual(bad.result.handleCode, 500)
      assert.include(bad.result.handleMsg, "job params invalid")
    }).pipe(Effect.provide(env(mode))))

  it.live(
    "failures come back: an Error with its stack, a JobFailed with its message, an exit, a missing export, memory limits",
    () =>
      Effect.gen(function*() {
        const admin = yield* MockAdmin.MockAdmin
        const thrown = (yield* admin.run({ handler: "fails" })).result
        assert.strictEqual(thrown.handleCode, 500)
        assert.include(thrown.handleMsg, "worker boom")
        assert.include(thrown.handleMsg, "isolated-jobs.mjs")
        const typed = (yield* admin.run({ handler: "failsTyped" })).result
        assert.deepStrictEqual([typed.handleCode, typed.handleMsg], [500, "nothing to do today"])
        const exited = (yield* admin.run({ handler: "exits" })).result
        assert.include(exited.handleMsg, "exited (code 3) before the job finished")
        const missing = (yield* admin.run({ handler: "missing" })).result
        assert.include(missing.handleMsg, "exports no function named \"noSuchExport\"")
        const hog = (yield* admin.run({ handler: "hogs" })).result
        assert.strictEqual(hog.handleCode, 500)
        // A thread says why; a process dies of it (V8 aborts).
        if (mode === "thread") assert.include(hog.handleMsg, "ERR_WORKER_OUT_OF_MEMORY")
        else assert.include(hog.handleMsg, "the job's process exited")
        // And the executor is still here.
        assert.strictEqual((yield* admin.beat).code, 200)
      }).pipe(Effect.provide(env(mode))),
    30_000
  )

  it.live("a kill leaves nothing behind: the run's thread or process, and what it started (process mode)", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { jobId, logId } = yield* admin.trigger({ handler: "spawnsAndSpins" })
      const pid = Number((yield* waitForLog(admin, logId, /child (\d+)/))[1])
      assert.isTrue(alive(pid))
      yield* admin.kill(jobId)
      assert.strictEqual((yield* admin.result(logId, "5 seconds")).handleCode, 500)
      if (mode === "process") {
        const deadline = Date.now() + 5000
        while (alive(pid) && Date.now() < deadline) yield* Effect.sleep(Duration.millis(20))
        assert.isFalse(alive(pid), "the job's child process survived the kill")
      } else {
        // A thread shares the executor's process: what it spawned is the executor's child, and stays.
        process.kill(pid, "SIGKILL")
      }
    }).pipe(Effect.provide(env(mode))))

  it("the module must be a file URL or an absolute path", () => {
    assert.throws(() => Isolated.make({ name: "x", module: "./relative.js" }), /absolute path/)
  })
})

describe("an isolated job's module", () => {
  // A project as a user has it: TypeScript sources, and (after a build) the compiled file beside one of them.
  const project = tempDir("isolated-module-")
  Fs.writeFileSync(Path.join(project, "built.ts"), "")
  Fs.writeFileSync(Path.join(project, "built.js"), "")
  Fs.writeFileSync(Path.join(project, "source.ts"), "")
  Fs.writeFileSync(Path.join(project, "source.mts"), "")
  const url = (file: string) => Url.pathToFileURL(Path.join(project, file)).href

  it("named with .js, it is the compiled file where there is one, else under tsx its TypeScript source", () => {
    assert.deepStrictEqual(locate(url("built.js"), "j", true), { url: url("built.js") })
    assert.deepStrictEqual(locate(url("built.js"), "j", false), { url: url("built.js") })
    assert.deepStrictEqual(locate(url("source.js"), "j", true), { url: url("source.ts") })
    assert.deepStrictEqual(locate(url("source.mjs"), "j", true), { url: url("source.mts") })
  })

  it("without tsx, a source alone says to compile it; a missing module says so", () => {
    assert.deepStrictEqual(locate(url("source.js"), "primes", false), {
      problem: `isolated job primes: ${
        Path.join(project, "source.js")
      } does not exist, only its TypeScript source source.ts: compile it (tsc), or start the executor under tsx`
    })
    assert.deepStrictEqual(locate(url("gone.js"), "primes", true), {
      problem: `isolated job primes: its module ${Path.join(project, "gone.js")} does not exist`
    })
  })

  it.effect("a run of a job whose module is missing fails with that line", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { result } = yield* admin.run({ handler: "gone" })
      assert.strictEqual(result.handleCode, 500)
      assert.strictEqual(
        result.handleMsg,
        `IsolatedJobError: isolated job gone: its module ${Path.join(project, "gone.js")} does not exist`
      )
    }).pipe(
      Effect.provide(MockAdmin.layer(Job.registry(Isolated.make({ name: "gone", module: url("gone.js") }))))
    ))
})

describe("Promise jobs", () => {
  const mode = "thread"
  it.live("a kill aborts the signal and the run ends at once", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { jobId, logId } = yield* admin.trigger({ handler: "promiseWaits" })
      yield* waitForLog(admin, logId, "waiting for the signal")
      yield* admin.kill(jobId)
      const result = yield* admin.result(logId, "5 seconds")
      assert.deepStrictEqual([result.handleCode, result.handleMsg], [
        500,
        "scheduling center kill job. [job running, killed]"
      ])
      assert.isTrue(abortedBy.has(logId))
    }).pipe(Effect.provide(env(mode))))

  it.live("a timeout aborts the signal too (502)", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { logId } = yield* admin.trigger({ handler: "promiseWaits", timeoutSeconds: 1 })
      assert.strictEqual((yield* admin.result(logId, "5 seconds")).handleCode, 502)
      assert.isTrue(abortedBy.has(logId))
    }).pipe(Effect.provide(env(mode))))

  it.live("typed params, the result, a JobFailed's message, a thrown Error's stack", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const ok = yield* admin.run({ handler: "promiseTyped", params: "21", shardIndex: 1, shardTotal: 2 })
      assert.deepStrictEqual([ok.result.handleCode, ok.result.handleMsg], [200, "42 (from 21, shard 1/2)"])
      assert.include(yield* logOf(admin, ok.triggered.logId), "doubling 21")
      const typed = (yield* admin.run({ handler: "promiseTyped", params: "-1" })).result
      assert.deepStrictEqual([typed.handleCode, typed.handleMsg], [500, "negative params"])
      const thrown = (yield* admin.run({ handler: "promiseTyped", params: "0" })).result
      assert.strictEqual(thrown.handleCode, 500)
      assert.include(thrown.handleMsg, "zero is not allowed")
      assert.include(thrown.handleMsg, "isolated.test.ts")
      const invalid = (yield* admin.run({ handler: "promiseTyped", params: "x" })).result
      assert.include(invalid.handleMsg, "job params invalid")
    }).pipe(Effect.provide(env(mode))))
})
