/**
 * The development admin's console, its JSON API over real HTTP on 127.0.0.1: a run once with params and its
 * result and log, a kill and its result, a refused trigger, a timeout, pause and resume of a schedule, and an
 * executor that stops beating (offline, its running run lost) or leaves (removed).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import * as Http from "node:http"
import type * as Net from "node:net"
import { DevAdmin } from "../src/dev.js"
import { executorViews } from "../src/internal/console/runs.js"
import type { MockAdmin } from "../src/testing.js"
import { callApi, devAdminWithExecutor } from "./helpers/console.js"
import { waitUntil } from "./helpers/wait.js"

/** The console's view of a run, once it is `status`. */
const runOnce = (dev: DevAdmin.Service, logId: number, status: string) =>
  Effect.gen(function*() {
    let run: any
    yield* waitUntil(
      `run ${logId} to be ${status}`,
      Effect.map(callApi(dev, "state"), ({ body }) => {
        run = body.runs.find((each: any) => each.logId === logId)
        return run?.status === status
      }),
      8000
    )
    return run
  })

describe("the console's API", () => {
  it.scopedLive("runs a job once with params: its result, and its log paged from a line on as the admin does", () =>
    Effect.gen(function*() {
      const dev = yield* devAdminWithExecutor([
        { jobId: 1, handler: "echo", params: "declared", schedule: { cron: "0 0 0 1 1 ?" }, route: "ROUND" }
      ])
      const state = yield* callApi(dev, "state")
      assert.deepStrictEqual(state.body.jobs, [{
        jobId: 1,
        handler: "echo",
        params: "declared",
        schedule: "cron 0 0 0 1 1 ?",
        route: "ROUND",
        blockStrategy: "SERIAL_EXECUTION",
        timeoutSeconds: 0,
        paused: false
      }])
      assert.strictEqual(state.body.executors[0].status, "online")

      const run = yield* callApi(dev, "jobs/1/run", { params: "from the console" })
      assert.strictEqual(run.status, 200)
      const [triggered] = run.body.triggered
      assert.strictEqual(triggered.code, 200)
      assert.strictEqual(triggered.executor, state.body.executors[0].address)
      const done = yield* runOnce(dev, triggered.logId, "success")
      assert.strictEqual(done.msg, "hello from the console")
      assert.strictEqual(done.code, 200)
      assert.strictEqual(done.handler, "echo")
      assert.isAtLeast(done.finishedAt, done.triggeredAt)

      const log = yield* callApi(dev, `runs/${triggered.logId}/log?fromLineNum=1`)
      assert.include(log.body.logContent, "echoing from the console")
      assert.strictEqual(log.body.fromLineNum, 1)
      // Past the last line, with the result in: the end, as the admin's log view decides it.
      const after = yield* callApi(dev, `runs/${triggered.logId}/log?fromLineNum=${log.body.toLineNum + 1}`)
      assert.strictEqual(after.body.logContent, "")
      assert.isTrue(after.body.isEnd)

      // Without params: the declared ones.
      const declared = yield* callApi(dev, "jobs/1/run", "")
      assert.strictEqual((yield* runOnce(dev, declared.body.triggered[0].logId, "success")).msg, "hello declared")
    }))

  it.scopedLive("a kill ends the running run: killed, with the executor's message", () =>
    Effect.gen(function*() {
      const dev = yield* devAdminWithExecutor([{ jobId: 2, handler: "sleep", params: "{\"ms\":20000}" }])
      const { body } = yield* callApi(dev, "jobs/2/run", "")
      const logId = body.triggered[0].logId
      const running = yield* runOnce(dev, logId, "running")
      assert.strictEqual(running.finishedAt, null)
      const log = yield* callApi(dev, `runs/${logId}/log?fromLineNum=1`)
      assert.isFalse(log.body.isEnd)
      const kill = yield* callApi(dev, "jobs/2/kill", "")
      assert.deepStrictEqual(kill.body.replies.map((reply: any) => reply.code), [200])
      const killed = yield* runOnce(dev, logId, "killed")
      assert.strictEqual(killed.msg, "scheduling center kill job. [job running, killed]")
      assert.strictEqual(killed.code, 500)
    }))

  it.scopedLive("a trigger the executor refuses (DISCARD_LATER while busy) is refused, with its message", () =>
    Effect.gen(function*() {
      const dev = yield* devAdminWithExecutor([
        { jobId: 3, handler: "sleep", params: "{\"ms\":20000}", blockStrategy: "DISCARD_LATER" }
      ])
      const first = yield* callApi(dev, "jobs/3/run", "")
      yield* runOnce(dev, first.body.triggered[0].logId, "running")
      const second = yield* callApi(dev, "jobs/3/run", "")
      const [refused] = second.body.triggered
      assert.strictEqual(refused.code, 500)
      const run = yield* runOnce(dev, refused.logId, "refused")
      assert.strictEqual(run.msg, "block strategy effect：Discard Later")
      yield* callApi(dev, "jobs/3/kill", "")
    }))

  it.scopedLive("a run past its timeout is timed out (502)", () =>
    Effect.gen(function*() {
      const dev = yield* devAdminWithExecutor([
        { jobId: 4, handler: "sleep", params: "{\"ms\":5000}", timeoutSeconds: 1 }
      ])
      const { body } = yield* callApi(dev, "jobs/4/run", "")
      const run = yield* runOnce(dev, body.triggered[0].logId, "timed out")
      assert.strictEqual(run.code, 502)
      assert.strictEqual(run.msg, "job execute timeout ")
    }))

  it.scopedLive("requests it cannot serve say what is wrong", () =>
    Effect.gen(function*() {
      const dev = yield* devAdminWithExecutor([{ jobId: 1, handler: "echo" }])
      assert.deepStrictEqual(yield* callApi(dev, "jobs/9/run", ""), {
        status: 404,
        body: { error: "no job 9 is declared" }
      })
      assert.deepStrictEqual(yield* callApi(dev, "jobs/1/run", "{\"params\": 5}"), {
        status: 400,
        body: {
          error:
            "the body must be JSON like {\"params\":\"…\"} (params a string; leave it out for the job's own params)"
        }
      })
      assert.deepStrictEqual((yield* callApi(dev, "jobs/1/run")).status, 405)
      // The admin API beside it answers as before.
      const admin = yield* Effect.promise(() =>
        fetch(`${dev.admin.url}/api/nothing`, { method: "POST", body: "{}" }).then((r) => r.json())
      )
      assert.deepStrictEqual(admin, {
        code: 500,
        msg: `invalid request, uri-mapping(${new URL(dev.admin.url!).pathname}/api/nothing) not found.`
      })
    }))
})

describe("the console's schedules and executors", () => {
  it.scoped("pause: the schedule's times pass without a trigger; resume: it triggers again", () =>
    Effect.gen(function*() {
      // No executor: each trigger is a "not triggered" run, enough to see the schedule fire.
      const dev = yield* DevAdmin.start({
        jobs: [{ jobId: 5, handler: "echo", schedule: { everySeconds: 60 } }],
        onEvent: false
      })
      const paused = yield* callApi(dev, "jobs/5/pause", "")
      assert.deepStrictEqual(paused.body, { jobId: 5, paused: true })
      assert.isTrue((yield* callApi(dev, "state")).body.jobs[0].paused)
      yield* TestClock.adjust(Duration.seconds(120))
      assert.deepStrictEqual((yield* callApi(dev, "state")).body.runs, [])
      assert.deepStrictEqual((yield* callApi(dev, "jobs/5/resume", "")).body, { jobId: 5, paused: false })
      yield* TestClock.adjust(Duration.seconds(60))
      const { runs } = (yield* callApi(dev, "state")).body
      assert.deepStrictEqual(
        runs.map((run: any) => [run.jobId, run.status, run.msg]),
        [[5, "not triggered", "no executor has registered"]]
      )
    }))

  it.scopedLive("an executor that stops beating is offline and its running run lost; one that leaves is removed", () =>
    Effect.gen(function*() {
      const dev = yield* DevAdmin.start({ jobs: [{ jobId: 6, handler: "echo" }], onEvent: false })
      // An executor that accepts every trigger and never reports: its beats are ours to send, or not.
      const server = Http.createServer((_, response) => {
        response.setHeader("content-type", "application/json")
        response.end("{\"code\":200}")
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () =>
          Effect.sync(() => {
            server.closeAllConnections()
            server.close()
          })
      )
      const address = `http://127.0.0.1:${(server.address() as Net.AddressInfo).port}/`
      const registry = (kind: "registry" | "registryRemove") =>
        Effect.promise(() =>
          fetch(`${dev.admin.url}/api/${kind}`, {
            method: "POST",
            body: JSON.stringify({ registryGroup: "EXECUTOR", registryKey: "silent", registryValue: address })
          }).then((response) => response.text())
        )
      const executor = Effect.map(callApi(dev, "state"), ({ body }) => body.executors[0])
      // Beats 300 ms apart: offline once 3 of them are missed (900 ms).
      yield* registry("registry")
      yield* Effect.sleep(Duration.millis(300))
      yield* registry("registry")
      const online = yield* executor
      assert.deepStrictEqual([online.address, online.appName, online.status], [address, "silent", "online"])
      const { body } = yield* callApi(dev, "jobs/6/run", "")
      const logId = body.triggered[0].logId
      yield* runOnce(dev, logId, "running")
      const run = yield* runOnce(dev, logId, "lost")
      assert.strictEqual((yield* executor).status, "offline")
      assert.strictEqual(run.finishedAt, null)
      yield* registry("registryRemove")
      assert.strictEqual((yield* executor).status, "removed")
    }))
})

describe("an executor's state from its beats", () => {
  const beat = (kind: "registry" | "registryRemove", seconds: number): MockAdmin.Registration => ({
    kind,
    appName: "app",
    address: "http://127.0.0.1:9999/",
    at: new Date(seconds * 1000)
  })
  const status = (beats: ReadonlyArray<MockAdmin.Registration>, now: number) =>
    executorViews(beats, now * 1000)[0].status

  it("offline after three of its longest beat gaps, at most 90 s; a restart's first beat is not a gap", () => {
    assert.strictEqual(status([beat("registry", 0), beat("registry", 0.1)], 0.2), "online")
    assert.strictEqual(status([beat("registry", 0), beat("registry", 0.1)], 0.5), "offline")
    // Restarted 1 s after a beat, without saying goodbye: still its 30 s rhythm, 90 s.
    const restarted = [beat("registry", 0), beat("registry", 30), beat("registry", 31)]
    assert.strictEqual(status(restarted, 100), "online")
    assert.strictEqual(status(restarted, 122), "offline")
    // Said goodbye, then came back: one beat so far, 90 s.
    const back = [beat("registry", 0), beat("registry", 0.1), beat("registryRemove", 0.2), beat("registry", 0.3)]
    assert.strictEqual(status(back, 60), "online")
    assert.strictEqual(status([...back.slice(0, 3)], 1), "removed")
  })
})
