/**
 * Kill: with `KILL_RUNNING` jobs running (as in scale), the time from sending `/kill` to the killed run's
 * result (handleCode 500) reaching the admin, and the `/kill` answer itself: an operator who presses kill
 * should see the run end at once.
 *
 * Two phases, each killing runs spread over the jobIds:
 * - at a fixed rate: `KILLS` (1000) `/kill` at `KILL_RATE` (200) per second, each timed from when it was due
 *   (the target's figure: the latency of a kill, far more of them than an admin sends);
 * - a burst: `KILL_BURST` (1000) `/kill`, `KILL_CONCURRENCY` (8) at a time, each sent when one is answered:
 *   how many kills per second the executor takes. Its latencies are mostly the queue it builds (8 in flight
 *   at 1000/s is 8 ms each), so they are shown, not held to the target.
 *
 * `KILL_TIMEOUT_SECONDS` (60) bounds the part.
 */
import * as Http from "node:http"
import {
  accepted,
  atRate,
  type CallbackItem,
  cpuMicros,
  deadline,
  ms,
  percentiles,
  pool,
  post,
  quiet,
  seconds,
  startExecutor,
  triggerSleepers,
  within
} from "./lib.js"

const RUNNING = Number(process.env.KILL_RUNNING ?? 10_000)
const KILLS = Number(process.env.KILLS ?? 1000)
const RATE = Number(process.env.KILL_RATE ?? 200)
const BURST = Number(process.env.KILL_BURST ?? 1000)
/** Kills first, uncounted: the kill path's code is compiled over its first hundreds of runs. */
const WARMUP = 300
const CONCURRENCY = Number(process.env.KILL_CONCURRENCY ?? 8)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64)
const TIMEOUT_MS = Number(process.env.KILL_TIMEOUT_SECONDS ?? 60) * 1000

interface Figures {
  readonly toResult: readonly [number, number]
  readonly answer: readonly [number, number]
  readonly kills: number
  readonly seconds: number
  /** CPU µs per kill: the executor's threads together, and its main thread. */
  readonly cpu: { readonly total: number; readonly main: number }
  readonly otherCodes: number
}

export const run = async () => {
  const firstLogId = 1
  const total = Math.min(RUNNING, WARMUP + KILLS + BURST)
  console.log(
    `kill: with ${RUNNING} jobs running, ${KILLS} /kill at ${RATE}/s, then ${BURST} more ${CONCURRENCY} at a time`
  )
  // Each killed run's result, by logId, and whoever waits for a phase's results.
  const arrived = new Map<number, { readonly at: number; readonly code: number }>()
  let waiting: { readonly count: number; readonly done: () => void } | undefined
  const executor = await startExecutor((item: CallbackItem, at) => {
    if (arrived.has(item.logId)) return
    arrived.set(item.logId, { at, code: item.handleCode })
    if (waiting !== undefined && arrived.size >= waiting.count) waiting.done()
  })
  const agent = new Http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const until = deadline(TIMEOUT_MS)
  const { port, pid } = executor.target
  // Spread over the jobIds, so the killed runs are not just the first ones started; phase two takes the others.
  const stride = Math.max(1, Math.floor(RUNNING / total))
  const jobIdOf = (n: number) => n * stride

  /** Kills runs `from`..`from + count - 1` (in stride order) as `send` paces them, and gathers the figures. */
  const phase = async (
    from: number,
    count: number,
    send: (kill: (i: number, since: number) => Promise<void>) => Promise<number>
  ): Promise<Figures | string> => {
    const sentAt = new Map<number, number>()
    const answers: Array<number> = []
    const allArrived = new Promise<void>((done) => waiting = { count: arrived.size + count, done })
    const cpuBefore = cpuMicros(pid)
    const started = performance.now()
    const sent = await send(async (i, since) => {
      const jobId = jobIdOf(from + i)
      sentAt.set(firstLogId + jobId, since)
      const reply = await post(agent, port, "/kill", JSON.stringify({ jobId }), 10_000)
      answers.push(performance.now() - since)
      if (!accepted(reply)) throw new Error(`/kill of jobId ${jobId} answered ${reply}`)
    })
    if (sent < count) return `${sent} of ${count} /kill sent in time`
    if (!await within(allArrived, until.remaining())) {
      return `${arrived.size} of ${from + count} killed runs' results arrived in time`
    }
    const took = performance.now() - started
    const cpuAfter = cpuMicros(pid)
    const latencies: Array<number> = []
    let otherCodes = 0
    for (const [logId, since] of sentAt) {
      const result = arrived.get(logId)!
      if (result.code !== 500) otherCodes++
      latencies.push(result.at - since)
    }
    return {
      toResult: percentiles(latencies),
      answer: percentiles(answers),
      kills: count,
      seconds: took / 1000,
      cpu: { total: (cpuAfter.total - cpuBefore.total) / count, main: (cpuAfter.main - cpuBefore.main) / count },
      otherCodes
    }
  }

  const show = (f: Figures, target: string) => {
    console.log(`  /kill → result at admin  p50 ${ms(f.toResult[0])} p99 ${ms(f.toResult[1])}${target}`)
    console.log(
      `  /kill answer             p50 ${ms(f.answer[0])} p99 ${ms(f.answer[1])}   CPU ${
        f.cpu.total.toFixed(0)
      } µs/kill (main thread ${f.cpu.main.toFixed(0)})`
    )
    if (f.otherCodes > 0) console.log(`  kill: ${f.otherCodes} killed runs reported a handleCode other than 500`)
  }

  if (RUNNING < WARMUP + KILLS) {
    console.log(`  kill did not run: KILL_RUNNING (${RUNNING}) must be at least ${WARMUP + KILLS} (warm-up and KILLS)`)
    await executor.close()
    agent.destroy()
    return
  }
  try {
    const { accepted, refusal } = await triggerSleepers(agent, port, RUNNING, CONNECTIONS, firstLogId, until)
    if (accepted < RUNNING) {
      console.log(`  kill did not finish: ${accepted} of ${RUNNING} triggers accepted${refusal ? `: ${refusal}` : ""}`)
      return
    }
    // Let the runs settle (their log files created and start lines written, the garbage of the triggers
    // collected), so that what is measured is the kill, not the tail of the start.
    await quiet(pid, until)
    const warm = await phase(0, WARMUP, (kill) => pool(WARMUP, CONCURRENCY, until, (i) => kill(i, performance.now())))
    if (typeof warm === "string") {
      console.log(`  kill warm-up did not finish: ${warm}`)
      return
    }
    const settled = await quiet(pid, until)
    const atFixedRate = await phase(WARMUP, KILLS, (kill) => atRate(KILLS, RATE, until, kill))
    if (typeof atFixedRate === "string") {
      console.log(`  kill did not finish: ${atFixedRate}`)
      return
    }
    console.log(
      `  at ${RATE} kills/s (after ${WARMUP} kills uncounted, then ${
        seconds(settled)
      } for the executor to be quiet), timed from when each was due:`
    )
    show(atFixedRate, "   (target p99 < 20 ms)")
    const burstSize = total - WARMUP - KILLS
    if (burstSize === 0) return
    await quiet(pid, until)
    const burst = await phase(
      WARMUP + KILLS,
      burstSize,
      (kill) => pool(burstSize, CONCURRENCY, until, (i) => kill(i, performance.now()))
    )
    if (typeof burst === "string") {
      console.log(`  kill burst did not finish: ${burst}`)
      return
    }
    console.log(
      `  a burst, ${CONCURRENCY} at a time: ${
        (burst.kills / burst.seconds).toFixed(0)
      } kills/s, latency mostly the queue:`
    )
    show(burst, "")
  } finally {
    agent.destroy()
    await executor.close()
  }
}
