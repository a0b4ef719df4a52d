// In-process cost of a trigger: ExecutorApi.handleNow for /run, run fiber, result, outbox, file log (real store, tmp dir).
import { Effect, Layer, Context } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Executor, ExecutorApi, ExecutorConfig, Job, AdminClient, Wire } from "./src/index.js"

const N = Number(process.env.N ?? 50000)
const logPath = Fs.mkdtempSync(Path.join("/work/benchtmp", "harness-"))
const Trivial = Job.make({ name: "trivial", run: Effect.succeed("ok") })
let delivered = 0
let done: () => void = () => {}
const allDone = new Promise<void>((r) => done = r)
const client = Layer.succeed(AdminClient.AdminClient, AdminClient.AdminClient.of({
  registry: () => Effect.void,
  registryRemove: () => Effect.void,
  callback: (items) => Effect.sync(() => { delivered += items.length; if (delivered >= N) done() })
}))
const program = Effect.gen(function*() {
  const api = yield* ExecutorApi.ExecutorApi
  const headers = {}
  const c0 = process.cpuUsage(); const t0 = performance.now()
  for (let i = 0; i < N; i++) {
    const body = JSON.stringify({ jobId: i % 1000, executorHandler: "trivial", executorBlockStrategy: "SERIAL_EXECUTION", executorTimeout: 0, logId: 1000000 + i, logDateTime: Date.now(), glueType: "BEAN", broadcastIndex: 0, broadcastTotal: 1 })
    const r = api.handleNow({ method: "POST", url: "/run", headers, body })
    if (Effect.isEffect(r)) throw new Error("not sync")
    if (i % 64 === 63) yield* Effect.promise(() => new Promise((res) => setImmediate(res)))
  }
  yield* Effect.promise(() => allDone)
  const c = process.cpuUsage(c0)
  console.log(`main+threads CPU ${( (c.user + c.system) / N).toFixed(1)} µs/trigger, wall ${((performance.now() - t0) * 1000 / N).toFixed(1)} µs/trigger`)
})
const layer = Executor.layerWith(Job.registry(Trivial)).pipe(
  Layer.provide(Layer.mergeAll(client, (await import("./src/JobLogFile.js")).layer, (await import("./src/OutboxStore.js")).layerFile)),
  Layer.provideMerge(ExecutorConfig.layer({ logPath, port: 0, host: "127.0.0.1", queueLimit: 100000, logRetentionDays: 0 }))
)
await Effect.runPromise(Effect.scoped(Effect.provide(program, layer)))
Fs.rmSync(logPath, { recursive: true, force: true })
process.exit(0)
