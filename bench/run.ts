/**
 * `npm run bench`: the executor's end-to-end figures beside a ceiling, measured in one run on this machine.
 *
 * The bench process runs a loopback admin sink (it takes callbacks and notes when each result arrived) and
 * the load generator: `TRIGGERS` `/run` triggers of a trivial job over `CONNECTIONS` keep-alive connections
 * across `JOB_IDS` jobIds. The same load goes, one after the other, to two targets in processes of their own:
 * - the executor (`bench/targets/executor.ts`), file logging and the durable outbox on;
 * - the ceiling (`bench/targets/ceiling.ts`): bare node:http that parses, answers and batches an echo result.
 * For each it prints throughput (results at the admin per second), `/run` latency p50/p99 and
 * trigger-to-result latency p50/p99, and the executor's throughput as a ratio of the ceiling's.
 *
 * Bounded: a fixed number of triggers per target; everything on 127.0.0.1.
 * `PROFILE=dir npm run bench` writes a CPU profile of the executor process into `dir` (open it in Chrome's
 * DevTools, Performance tab).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const TRIGGERS = Number(process.env.TRIGGERS ?? 20_000)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64)
const JOB_IDS = Number(process.env.JOB_IDS ?? 1000)
const here = import.meta.dirname

interface Figures {
  readonly throughput: number
  readonly run: readonly [number, number]
  readonly result: readonly [number, number]
}

const percentiles = (values: Array<number>): readonly [number, number] => {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
  return [at(0.5), at(0.99)]
}

/** The admin sink: answers everything 200, and reports each callback's logIds. */
const startSink = (onResult: (logId: number) => void) =>
  new Promise<{ url: string; close: () => void }>((resolve) => {
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
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/xxl-job-admin`,
        close: () => {
          server.closeAllConnections()
          server.close()
        }
      }))
  })

/** Starts a target process and waits for its `READY <port>`. */
const startTarget = (script: string, env: Record<string, string>) =>
  new Promise<{ port: number; stop: () => Promise<void> }>((resolve, reject) => {
    const profile = process.env.PROFILE && script === "executor.ts"
      ? ["--cpu-prof", `--cpu-prof-dir=${process.env.PROFILE}`]
      : []
    const child = ChildProcess.spawn(process.execPath, [
      ...profile,
      "--import",
      "tsx",
      Path.join(here, "targets", script)
    ], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"]
    })
    const exited = new Promise<void>((done) => child.on("exit", () => done()))
    let out = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      out += chunk
      const ready = /READY (\d+)/.exec(out)
      if (ready) resolve({ port: Number(ready[1]), stop: () => (child.kill("SIGTERM"), exited) })
    })
    child.on("exit", (code) => reject(new Error(`${script} exited (${code}) before it was ready: ${out}`)))
  })

const post = (agent: Http.Agent, port: number, body: string) =>
  new Promise<string>((resolve, reject) => {
    const req = Http.request(
      { agent, host: "127.0.0.1", port, path: "/run", method: "POST", headers: { "content-type": "application/json" } },
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

/** Drives one target with the load; logIds start at `firstLogId` so the targets never share one. */
const measure = async (script: string, firstLogId: number): Promise<Figures> => {
  const sent = new Map<number, number>()
  const resultLatencies: Array<number> = []
  let results = 0
  let done: () => void = () => {}
  const allResults = new Promise<void>((resolve) => done = resolve)
  const sink = await startSink((logId) => {
    const start = sent.get(logId)
    if (start === undefined) return
    sent.delete(logId)
    resultLatencies.push(performance.now() - start)
    if (++results === TRIGGERS) done()
  })
  const logPath = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-bench-"))
  const target = await startTarget(script, {
    XXL_JOB_ADMIN_ADDRESSES: sink.url,
    XXL_JOB_EXECUTOR_APPNAME: "bench",
    XXL_JOB_EXECUTOR_IP: "127.0.0.1",
    XXL_JOB_EXECUTOR_HOST: "127.0.0.1",
    XXL_JOB_EXECUTOR_PORT: "0",
    XXL_JOB_EXECUTOR_LOGPATH: logPath,
    XXL_JOB_EXECUTOR_QUEUE_LIMIT: String(TRIGGERS)
  })
  const agent = new Http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const runLatencies: Array<number> = []
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (next < TRIGGERS) {
      const logId = firstLogId + next++
      const body = JSON.stringify({
        jobId: logId % JOB_IDS,
        executorHandler: "trivial",
        executorBlockStrategy: "SERIAL_EXECUTION",
        executorTimeout: 0,
        logId,
        logDateTime: Date.now(),
        glueType: "BEAN",
        broadcastIndex: 0,
        broadcastTotal: 1
      })
      const t0 = performance.now()
      sent.set(logId, t0)
      const reply = await post(agent, target.port, body)
      runLatencies.push(performance.now() - t0)
      if (!reply.startsWith("{\"code\":200")) throw new Error(`${script} refused a trigger: ${reply}`)
    }
  }))
  await allResults
  const seconds = (performance.now() - started) / 1000
  agent.destroy()
  await target.stop()
  sink.close()
  Fs.rmSync(logPath, { recursive: true, force: true })
  return { throughput: TRIGGERS / seconds, run: percentiles(runLatencies), result: percentiles(resultLatencies) }
}

const ms = (n: number) => `${n.toFixed(1).padStart(7)} ms`
const show = (name: string, f: Figures) =>
  console.log(
    `  ${name.padEnd(22)} ${f.throughput.toFixed(0).padStart(7)} results/s   /run p50 ${ms(f.run[0])} p99 ${
      ms(f.run[1])
    }   trigger→result p50 ${ms(f.result[0])} p99 ${ms(f.result[1])}`
  )

console.log(
  `effect-xxl-job bench: ${TRIGGERS} triggers per target, ${CONNECTIONS} connections, ${JOB_IDS} jobIds, ${Os.cpus().length} cores`
)
const ceiling = await measure("ceiling.ts", 1)
show("ceiling (bare node:http)", ceiling)
const executor = await measure("executor.ts", 10_000_000)
show("effect-xxl-job", executor)
console.log(`  ratio to the ceiling    ${(executor.throughput / ceiling.throughput).toFixed(2)} (target ≥ 0.60)`)
