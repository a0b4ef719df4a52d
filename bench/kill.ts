/**
 * Kill: with `KILL_RUNNING` jobs running (as in scale), `/kill` for `KILLS` of them, `KILL_CONCURRENCY` at a
 * time. Reports the time from sending each `/kill` to the killed run's result (handleCode 500) reaching the
 * admin, and the `/kill` answer itself: an operator who presses kill should see the run end at once.
 */
import * as Http from "node:http"
import {
  type CallbackItem,
  deadline,
  ms,
  percentiles,
  pool,
  post,
  seconds,
  sleep,
  startExecutor,
  triggerSleepers,
  within
} from "./lib.js"

const RUNNING = Number(process.env.KILL_RUNNING ?? 10_000)
const KILLS = Math.min(RUNNING, Number(process.env.KILLS ?? 1000))
const CONCURRENCY = Number(process.env.KILL_CONCURRENCY ?? 8)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64)
const TIMEOUT_MS = Number(process.env.KILL_TIMEOUT_SECONDS ?? 60) * 1000

export const run = async () => {
  console.log(`kill: ${KILLS} of ${RUNNING} running jobs killed, ${CONCURRENCY} /kill at a time`)
  const firstLogId = 1
  const sentAt = new Map<number, number>()
  const arrived = new Map<number, { readonly at: number; readonly code: number }>()
  let done: () => void = () => {}
  const allKilled = new Promise<void>((resolve) => done = resolve)
  const executor = await startExecutor((item: CallbackItem, at) => {
    if (arrived.has(item.logId)) return
    arrived.set(item.logId, { at, code: item.handleCode })
    if (arrived.size === KILLS) done()
  })
  const agent = new Http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const until = deadline(TIMEOUT_MS)
  try {
    const { port } = executor.target
    const { accepted, refusal } = await triggerSleepers(agent, port, RUNNING, CONNECTIONS, firstLogId, until)
    if (accepted < RUNNING) {
      console.log(`  kill did not finish: ${accepted} of ${RUNNING} triggers accepted${refusal ? `: ${refusal}` : ""}`)
      return
    }
    // Let the runs settle (their start lines written, the garbage of 10k triggers collected), so that what
    // is measured is the kill, not the tail of the start.
    await sleep(1000)
    // Spread over the jobIds, so the killed runs are not just the first ones started.
    const stride = Math.floor(RUNNING / KILLS)
    const answers: Array<number> = []
    const started = performance.now()
    await pool(KILLS, CONCURRENCY, until, async (i) => {
      const jobId = i * stride
      const t0 = performance.now()
      sentAt.set(firstLogId + jobId, t0)
      const reply = await post(agent, port, "/kill", JSON.stringify({ jobId }), 10_000)
      answers.push(performance.now() - t0)
      if (!reply.startsWith("{\"code\":200")) throw new Error(`/kill of jobId ${jobId} answered ${reply}`)
    })
    if (sentAt.size < KILLS) {
      console.log(`  kill did not finish: ${sentAt.size} of ${KILLS} /kill sent in time`)
      return
    }
    if (!await within(allKilled, until.remaining())) {
      console.log(`  kill did not finish: ${arrived.size} of ${KILLS} killed runs' results arrived in time`)
    }
    const took = performance.now() - started
    const latencies: Array<number> = []
    let otherCodes = 0
    for (const [logId, sent] of sentAt) {
      const result = arrived.get(logId)
      if (result === undefined) continue
      if (result.code !== 500) otherCodes++
      latencies.push(result.at - sent)
    }
    const toResult = percentiles(latencies)
    const answer = percentiles(answers)
    console.log(
      `  /kill → result at admin  p50 ${ms(toResult[0])} p99 ${ms(toResult[1])} over ${latencies.length} kills in ${
        seconds(took)
      }   (target p99 < 20 ms)`
    )
    console.log(`  /kill answer             p50 ${ms(answer[0])} p99 ${ms(answer[1])}`)
    if (otherCodes > 0) console.log(`  kill: ${otherCodes} killed runs reported a handleCode other than 500`)
  } finally {
    agent.destroy()
    await executor.close()
  }
}
