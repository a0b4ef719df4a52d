/**
 * Scale: N jobs running at once (each sleeping until killed, jobIds 0..N-1, one trigger each), for each N in
 * `SCALE`, each N in a fresh executor. Reports the executor's RSS once all N triggers were accepted (and the
 * memory per running job over a baseline taken before them), and `/beat` latency while they run: a beat is
 * how the admin decides the executor is alive, so it must stay fast however many jobs are running.
 */
import * as Http from "node:http"
import {
  deadline,
  mib,
  ms,
  percentiles,
  post,
  seconds,
  sleep,
  startExecutor,
  statusKiB,
  triggerSleepers
} from "./lib.js"

const SCALE = (process.env.SCALE ?? "1000,10000,100000").split(",").map((n) => Number(n.trim()))
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64)
const BEATS = Number(process.env.BEATS ?? 200)
/** The time one N may take to have all its triggers accepted. */
const TRIGGER_TIMEOUT_MS = Number(process.env.SCALE_TIMEOUT_SECONDS ?? 60) * 1000

/** `count` sequential `/beat`s, each timed from send to complete reply. */
export const beats = async (agent: Http.Agent, port: number, count: number): Promise<Array<number>> => {
  const latencies: Array<number> = []
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    const reply = await post(agent, port, "/beat", "", 10_000)
    latencies.push(performance.now() - t0)
    if (!reply.startsWith("{\"code\":200")) throw new Error(`/beat answered ${reply}`)
  }
  return latencies
}

const one = async (n: number) => {
  const label = `  scale N=${String(n).padEnd(7)}`
  const executor = await startExecutor(() => {})
  const { port, pid } = executor.target
  const agent = new Http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  try {
    // The baseline: started, and the request path warmed a little, but no job yet.
    await beats(agent, port, 20)
    const baselineHeap = await executor.target.memory()
    await sleep(200)
    const baseline = statusKiB(pid, "VmRSS")
    const t0 = performance.now()
    const { accepted, refusal } = await triggerSleepers(agent, port, n, CONNECTIONS, 1, deadline(TRIGGER_TIMEOUT_MS))
    const took = performance.now() - t0
    if (refusal !== undefined) {
      console.log(`${label} did not finish: a trigger was refused after ${accepted} accepted: ${refusal}`)
      return
    }
    if (accepted < n) {
      console.log(`${label} did not finish: ${accepted} of ${n} triggers accepted in ${seconds(took)}`)
      return
    }
    const atAccept = statusKiB(pid, "VmRSS")
    const beat = percentiles(await beats(agent, port, BEATS))
    // By now every run has started (runs start on the turn after their trigger is answered).
    const afterBeats = statusKiB(pid, "VmRSS")
    const peak = statusKiB(pid, "VmHWM")
    const rss = Math.max(atAccept, afterBeats)
    const perJob = (rss - baseline) / n
    console.log(`${label} ${n} triggers accepted in ${seconds(took)} (${(n / took * 1000).toFixed(0)}/s)`)
    const detail = `at accept ${mib(atAccept)}, after beats ${mib(afterBeats)}, baseline ${mib(baseline)}`
    console.log(
      `${label} RSS ${mib(rss)} (${detail}, peak ${mib(peak)}): ${
        // With few jobs the baseline's own drift (the heap growing or giving memory back) can outweigh them.
        perJob > 0 ? `${perJob.toFixed(1)} KiB per running job` : "within the baseline's drift"}` +
        "   (target: < 1024 MiB RSS with 100k running)"
    )
    console.log(`${label} /beat p50 ${ms(beat[0])} p99 ${ms(beat[1])} over ${BEATS} beats   (target p99 < 50 ms)`)
    // Last, as the full GC it asks for would disturb the figures above.
    const usage = await executor.target.memory()
    if (usage !== undefined && baselineHeap !== undefined) {
      const kib = (bytes: number) => bytes / 1024
      const perJobHeap = kib(usage.heapUsed - baselineHeap.heapUsed) / n
      console.log(
        `${label} after a full GC: heap used ${mib(kib(usage.heapUsed))} of ${mib(kib(usage.heapTotal))}, external ${
          mib(kib(usage.external))
        }, RSS ${mib(kib(usage.rss))}: live heap ${perJobHeap.toFixed(1)} KiB per running job`
      )
    }
  } finally {
    agent.destroy()
    await executor.close()
  }
}

export const run = async () => {
  console.log(`scale: N jobs running at once (sleeping until killed), a fresh executor for each N`)
  for (const n of SCALE) await one(n)
}
