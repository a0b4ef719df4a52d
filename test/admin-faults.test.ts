/**
 * A flaky admin, one fault at a time, over real HTTP on loopback: down (connections reset), too slow, HTTP
 * 502, an HTML login page, and `{"code":500}`, each a fault of the mock admin. Through each, the executor keeps
 * taking triggers; once the admin is back, registration recovers by itself and every result is delivered.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Executor, ExecutorConfig, Job } from "../src/index.js"
import { MockAdmin } from "../src/testing.js"
import { waitUntil } from "./helpers/wait.js"

const Echo = Job.make({ name: "echo", run: Effect.map(Job.JobContext, (context) => context.params) })
const jobs = Job.registry(Echo)

const faults: ReadonlyArray<readonly [string, MockAdmin.Fault]> = [
  ["down", MockAdmin.Fault.Down()],
  // Never answers in time: the executor's 1 s admin timeout gives up.
  ["slow", MockAdmin.Fault.Slow({ delay: "1 minute" })],
  ["http502", MockAdmin.Fault.HttpError({ status: 502 })],
  ["html", MockAdmin.Fault.LoginPage()],
  ["code500", MockAdmin.Fault.Refuse({ msg: "admin is sick" })]
]

/** One fault, start to recovery; gives [triggered, delivered]. */
const scenario = ([name, fault]: readonly [string, MockAdmin.Fault]) =>
  Effect.gen(function*() {
    const admin = yield* MockAdmin.serve({ faults: fault })
    const logPath = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-faults-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
    const context = yield* Layer.build(
      Executor.layer(jobs).pipe(Layer.provide(ExecutorConfig.layer({
        adminAddresses: admin.url,
        appName: `faults-${name}`,
        host: "127.0.0.1",
        ip: "127.0.0.1",
        port: 0,
        logPath,
        registryIntervalSeconds: 1,
        adminTimeoutSeconds: 1,
        shutdownGraceSeconds: 0
      })))
    )
    const { address } = Context.get(context, Executor.Executor)
    const triggered = [1, 2, 3, 4, 5]
    // Triggers keep being taken while the admin misbehaves (it has not heard of the executor: named here).
    for (const logId of triggered) {
      const { reply } = yield* admin.trigger({ handler: "echo", jobId: logId, logId, executor: address })
      assert.strictEqual(reply.code, 200, name)
    }
    yield* waitUntil(
      `${name}: a refused callback`,
      Effect.map(admin.requests, (requests) => requests.some((r) => r.endpoint === "callback" && r.fault === fault)),
      15_000
    )
    // Nothing got through meanwhile.
    assert.deepStrictEqual(yield* admin.registrations, [], name)
    assert.deepStrictEqual(yield* admin.callbacks, [], name)
    yield* admin.clearFault()
    const delivered = Effect.map(admin.callbacks, (items) => new Set(items.map((item) => item.logId)))
    yield* waitUntil(
      `${name}: every result`,
      Effect.map(delivered, (logIds) => logIds.size === triggered.length),
      15_000
    )
    yield* waitUntil(
      `${name}: registration again`,
      Effect.map(admin.executors, (list) => list.includes(address)),
      15_000
    )
    return [triggered.length, (yield* delivered).size] as const
  }).pipe(Effect.scoped)

describe("a flaky admin", () => {
  it.live(
    "down, slow, 502, an HTML login page, code 500: triggers go on, then every result arrives",
    () =>
      Effect.gen(function*() {
        const counts = yield* Effect.forEach(faults, scenario, { concurrency: "unbounded" })
        assert.deepStrictEqual(counts, faults.map(() => [5, 5] as const))
      }),
    30_000
  )
})
