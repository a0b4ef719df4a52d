/**
 * `npm run bench`: end-to-end figures of the executor over loopback HTTP, with file logging on.
 *
 * A loopback admin sink takes the callbacks; a driver sends `/run` triggers for a trivial job over
 * `CONNECTIONS` concurrent connections across many jobIds, and the bench prints:
 * - throughput: triggers per second whose results reached the admin;
 * - `/run` latency p50/p99 (request to reply);
 * - trigger-to-result latency p50/p99 (request sent to callback received).
 *
 * Bounded: `TRIGGERS` triggers (default 20000), then it stops. Everything talks to 127.0.0.1 only.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Executor, ExecutorConfig, Job } from "../src/index.js"

const TRIGGERS = Number(process.env.TRIGGERS ?? 20_000)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64)
const JOB_IDS = 1000

const percentile = (sorted: Array<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
const ms = (n: number) => `${n.toFixed(2)} ms`

/** The admin sink: answers registry and callback, and notes when each logId's result arrived. */
const startSink = (onResult: (logId: number) => void) =>
  new Promise<{ url: string; server: Http.Server }>((resolve) => {
    const server = Http.createServer((req, res) => {
      let body = ""
      req.setEncoding("utf8")
      req.on("data", (chunk) => body += chunk)
      req.on("end", () => {
        if (req.url?.endsWith("/api/callback")) {
          for (const item of JSON.parse(body) as Array<{ logId: number }>) onResult(item.logId)
        }
        res.writeHead(200, { "content-type": "application/json" })
        res.end("{\"code\":200,\"msg\":\"Success\"}")
      })
    })
    server.listen(
      0,
      "127.0.0.1",
      () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/xxl-job-admin`, server })
    )
  })

const post = (agent: Http.Agent, port: number, path: string, body: string) =>
  new Promise<string>((resolve, reject) => {
    const req = Http.request(
      { agent, host: "127.0.0.1", port, path, method: "POST", headers: { "content-type": "application/json" } },
      (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (chunk) => text += chunk)
        res.on("end", () => resolve(text))
      }
    )
    req.on("error", reject)
    req.end(body)
  })

const Trivial = Job.make({ name: "trivial", run: Effect.succeed("ok") })

const main = Effect.gen(function*() {
  const sent = new Map<number, number>()
  const resultLatencies: Array<number> = []
  let results = 0
  let allDone: () => void = () => {}
  const done = new Promise<void>((resolve) => allDone = resolve)
  const sink = yield* Effect.promise(() =>
    startSink((logId) => {
      const start = sent.get(logId)
      if (start !== undefined) resultLatencies.push(performance.now() - start)
      if (++results === TRIGGERS) allDone()
    })
  )
  const logPath = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-bench-"))
  // Registered before the executor, so it runs after the executor has closed (registryRemove included).
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      sink.server.close()
      Fs.rmSync(logPath, { recursive: true, force: true })
    })
  )
  const executor = yield* Layer.build(
    Executor.layer(Job.registry(Trivial)).pipe(
      Layer.provide(ExecutorConfig.layer({
        appName: "bench",
        adminAddresses: sink.url,
        host: "127.0.0.1",
        ip: "127.0.0.1",
        port: 0,
        logPath,
        queueLimit: 100_000
      }))
    )
  )
  const { port } = executor.unsafeMap.get(Executor.Executor.key) as Executor.Service
  const agent = new Http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const runLatencies: Array<number> = []
  let next = 1
  const started = performance.now()
  yield* Effect.promise(() =>
    Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      while (next <= TRIGGERS) {
        const logId = next++
        const body = JSON.stringify({
          jobId: logId % JOB_IDS,
          executorHandler: "trivial",
          executorBlockStrategy: "SERIAL_EXECUTION",
          logId,
          logDateTime: Date.now(),
          glueType: "BEAN"
        })
        const t0 = performance.now()
        sent.set(logId, t0)
        const reply = await post(agent, port, "/run", body)
        runLatencies.push(performance.now() - t0)
        if (!reply.startsWith("{\"code\":200")) throw new Error(`refused: ${reply}`)
      }
    }))
  )
  yield* Effect.promise(() => done)
  const seconds = (performance.now() - started) / 1000
  runLatencies.sort((a, b) => a - b)
  resultLatencies.sort((a, b) => a - b)
  console.log(`effect-xxl-job bench: ${TRIGGERS} triggers, ${CONNECTIONS} connections, ${JOB_IDS} jobIds, file logs`)
  console.log(`  end-to-end throughput   ${(TRIGGERS / seconds).toFixed(0)} triggers/s (results at the admin)`)
  console.log(
    `  /run latency            p50 ${ms(percentile(runLatencies, 0.5))}  p99 ${ms(percentile(runLatencies, 0.99))}`
  )
  console.log(
    `  trigger→result latency  p50 ${ms(percentile(resultLatencies, 0.5))}  p99 ${
      ms(percentile(resultLatencies, 0.99))
    }`
  )
  agent.destroy()
}).pipe(Effect.scoped)

NodeRuntime.runMain(main)
