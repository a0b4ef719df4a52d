/**
 * Throughput: `TRIGGERS` `/run` triggers of a trivial job over `CONNECTIONS` keep-alive connections across
 * `JOB_IDS` jobIds, sent to the executor and to the bare node:http ceiling in turn; results at the admin per
 * second, `/run` latency and trigger-to-result latency for each, and the executor's ratio to the ceiling.
 *
 * On a small shared machine one run of each varies by ±15%, so the two alternate for `ROUNDS` (5) rounds and
 * the figures compared are each side's median round (by throughput). A short uncounted round against the
 * ceiling first warms up this process (the load generator): its first round was always the slowest. Each
 * target process is warmed up too, by `WARMUP` (3000) uncounted triggers before its counted ones.
 *
 * Then latency at a throughput: `RATE_TRIGGERS` (40000) triggers at a fixed rate, `RATE_SHARE` (0.6) of the
 * ceiling's median throughput (the throughput the ratio target asks for), to each side in turn for
 * `RATE_ROUNDS` (3) rounds; each trigger's latency counts from when it was due. The counted triggers follow
 * `RATE_WARMUP_SECONDS` (1) of uncounted ones at the same rate, in one stream: the figure is the steady state
 * at that rate, not the change from the warm-up's load to it (over its first ~0.3 s, helper threads still
 * compile for the new load and a backlog builds; counted, that start alone decided the p99 of a short round).
 * The rounds above send each trigger when one is answered, so their latencies are mostly the queue that load
 * builds (Little's law: 64 in flight at 3000/s wait 21 ms each, however fast one trigger is).
 *
 * With `COMPARE=<git ref>`, the executor as built from that commit runs in every round too (see
 * `compareBuild`), first in every other round, and each figure's ratio between the two is taken per round.
 */
import * as Http from "node:http"
import * as Os from "node:os"
import { monitorEventLoopDelay } from "node:perf_hooks"
import {
  accepted,
  atRate,
  compareBuild,
  cpuMicros,
  deadline,
  executorEnv,
  fileCreationMicros,
  logRoot,
  ms,
  percentiles,
  pool,
  post,
  releaseLogDir,
  sleep,
  startSink,
  startTarget,
  tempLogDir,
  triggerBody
} from "./lib.js"

const TRIGGERS = Number(process.env.TRIGGERS ?? 15_000)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64)
const JOB_IDS = Number(process.env.JOB_IDS ?? 1000)
const ROUNDS = Number(process.env.ROUNDS ?? 5)
/** The fixed-rate load's share of the ceiling's throughput: the throughput the ratio target asks for. */
const RATE_SHARE = Number(process.env.RATE_SHARE ?? 0.6)
const RATE_TRIGGERS = Number(process.env.RATE_TRIGGERS ?? 40_000)
const RATE_ROUNDS = Number(process.env.RATE_ROUNDS ?? 3)
/** Uncounted seconds at the fixed rate before its counted triggers (see above). */
const RATE_WARMUP_SECONDS = Number(process.env.RATE_WARMUP_SECONDS ?? 1)
/** Uncounted triggers each target process takes first (see `measure`). */
const WARMUP = Number(process.env.WARMUP ?? 3000)
/** How long the results may take after the last trigger was answered before the part gives up. */
const RESULTS_TIMEOUT_MS = 60_000

interface Figures {
  readonly throughput: number
  readonly run: readonly [number, number]
  readonly result: readonly [number, number]
  /** CPU µs per trigger: the target's threads together, and its main thread. */
  readonly cpu: { readonly total: number; readonly main: number }
  /**
   * This process's longest event-loop stall while the counted triggers ran, in ms: the load generator's own.
   * Its latencies are taken here, so a stall here shows in them, whatever the target did.
   */
  readonly generatorStall: number
}

/**
 * Drives one target with the load; logIds start at `firstLogId` so the targets never share one. `triggers`
 * counted (`TRIGGERS`), with `env` added to the target's; at `rate` per second, else as fast as answered; of
 * `build` (see `compareBuild`), else this package's.
 */
const measure = async (
  script: string,
  firstLogId: number,
  { build, env = {}, rate, triggers = TRIGGERS }: {
    readonly triggers?: number
    readonly env?: Record<string, string>
    readonly rate?: number
    readonly build?: string
  } = {}
): Promise<Figures> => {
  const sent = new Map<number, number>()
  const resultLatencies: Array<number> = []
  let results = 0
  let done: () => void = () => {}
  const allResults = new Promise<void>((resolve) => done = resolve)
  const sink = await startSink(({ logId }) => {
    const start = sent.get(logId)
    if (start === undefined) return
    sent.delete(logId)
    resultLatencies.push(performance.now() - start)
    if (++results === triggers) done()
  })
  const logPath = tempLogDir()
  let target: Awaited<ReturnType<typeof startTarget>> | undefined
  const agent = new Http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const runLatencies: Array<number> = []
  let cpuBefore = { total: 0, main: 0 }
  let cpuAfter = cpuBefore
  let seconds = 0
  const stalls = monitorEventLoopDelay({ resolution: 5 })
  // Whatever fails (a target that does not start, a refused trigger, results that never come), the sink, the
  // connections and the target go: an open sink alone would keep the bench from ever exiting.
  try {
    const started = await startTarget(script, {
      ...executorEnv(sink.url, logPath),
      XXL_JOB_EXECUTOR_QUEUE_LIMIT: String(triggers),
      ...env
    }, build)
    target = started
    /** Sends trigger `i`; when `record`ed, its latencies count from `since`, the moment it was due. */
    const trigger = async (i: number, since: number, record: boolean) => {
      const logId = firstLogId + i
      const body = triggerBody({ jobId: logId % JOB_IDS, logId, handler: "trivial" })
      if (record) sent.set(logId, since)
      const reply = await post(agent, started.port, "/run", body)
      if (record) runLatencies.push(performance.now() - since)
      if (!accepted(reply)) throw new Error(`${script} refused a trigger: ${reply}`)
    }
    const never = deadline(Number.POSITIVE_INFINITY)
    /** Triggers `from`..`to - 1` as fast as they are answered: each connection sends its next on an answer. */
    const asFastAsAnswered = (from: number, to: number, record: boolean) =>
      pool(to - from, CONNECTIONS, never, (i) => trigger(from + i, performance.now(), record))
    // Warm up first, uncounted (logIds past the counted ones): a fresh process compiles its hot paths over
    // its first thousands of triggers, on helper threads (about four times their steady CPU per trigger over
    // the first 1.5 s, measured), and an executor runs for days. At a fixed rate near its capacity, that first
    // second's backlog would also never drain.
    await asFastAsAnswered(triggers, triggers + Math.min(triggers, WARMUP), false)
    await sleep(500)
    let startedAt = performance.now()
    if (rate === undefined) {
      cpuBefore = cpuMicros(started.pid)
      stalls.enable()
      await asFastAsAnswered(0, triggers, true)
    } else {
      // Latencies count from when each trigger was due. At most CONNECTIONS are in flight; the rest wait in
      // the agent's queue, on their clock. The first `warm` are uncounted (logIds past the warm-up's).
      const warm = Math.round(rate * RATE_WARMUP_SECONDS)
      const warmFrom = triggers + Math.min(triggers, WARMUP)
      await atRate(warm + triggers, rate, never, (i, due) => {
        if (i < warm) return trigger(warmFrom + i, due, false)
        if (i === warm) {
          cpuBefore = cpuMicros(started.pid)
          startedAt = due
          stalls.enable()
        }
        return trigger(i - warm, due, true)
      })
    }
    let late: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      allResults,
      new Promise<never>((_, reject) =>
        late = setTimeout(
          () => reject(new Error(`${script}: ${triggers - results} result(s) never reached the admin`)),
          RESULTS_TIMEOUT_MS
        )
      )
    ]).finally(() => clearTimeout(late))
    seconds = (performance.now() - startedAt) / 1000
    cpuAfter = cpuMicros(started.pid)
  } finally {
    stalls.disable()
    agent.destroy()
    await target?.stop()
    sink.close()
    releaseLogDir(logPath)
  }
  return {
    throughput: triggers / seconds,
    run: percentiles(runLatencies),
    result: percentiles(resultLatencies),
    cpu: {
      total: (cpuAfter.total - cpuBefore.total) / triggers,
      main: (cpuAfter.main - cpuBefore.main) / triggers
    },
    generatorStall: stalls.max / 1e6
  }
}

const show = (name: string, f: Figures) =>
  console.log(
    `  ${name.padEnd(24)} ${f.throughput.toFixed(0).padStart(7)} results/s   /run p50 ${ms(f.run[0])} p99 ${
      ms(f.run[1])
    }   trigger→result p50 ${ms(f.result[0])} p99 ${ms(f.result[1])}   CPU ${
      f.cpu.total.toFixed(0)
    } µs/trigger (main thread ${f.cpu.main.toFixed(0)})`
  )

const medianBy = (rounds: Array<Figures>, key: (figures: Figures) => number) =>
  [...rounds].sort((a, b) => key(a) - key(b))[Math.floor((rounds.length - 1) / 2)]

const median = (rounds: Array<Figures>) => medianBy(rounds, (f) => f.throughput)

/**
 * Measures this build (`now`) and, when comparing, the compared one (`then`), in turn: the compared build
 * goes first every other round, since the one measured later in a round may pay for the files and garbage
 * the earlier ones left.
 */
const inTurn = async (
  round: number,
  now: () => Promise<Figures>,
  then: (() => Promise<Figures>) | undefined
): Promise<readonly [Figures, Figures | undefined]> => {
  if (then === undefined) return [await now(), undefined]
  if (round % 2 === 1) {
    const first = await then()
    return [await now(), first]
  }
  const first = await now()
  return [first, await then()]
}

/** The compared build's median round, and how this build fared against it round by round. */
const showCompared = (
  ref: string,
  now: Array<Figures>,
  then: Array<Figures>,
  medianOf: (rounds: Array<Figures>) => Figures
) => {
  show(`  at ${ref}`.slice(0, 24), medianOf(then))
  console.log(`  ${ref}: ${compareLine(now, then)}`)
}

/** This build against the compared one, round by round: the medians of each figure's ratio. */
const compareLine = (now: Array<Figures>, then: Array<Figures>) => {
  const ratio = (key: (f: Figures) => number) => {
    const ratios = now.map((f, i) => key(f) / key(then[i])).sort((a, b) => a - b)
    return ratios[Math.floor((ratios.length - 1) / 2)].toFixed(2)
  }
  return `this build's throughput ×${ratio((f) => f.throughput)}, CPU per trigger ×${
    ratio((f) => f.cpu.total)
  } (main thread ×${ratio((f) => f.cpu.main)}), /run p99 ×${ratio((f) => f.run[1])} (medians of the rounds' ratios)`
}

export const run = async () => {
  console.log(
    `effect-xxl-job bench: ${TRIGGERS} triggers per target, ${CONNECTIONS} connections, ${JOB_IDS} jobIds, ${ROUNDS} rounds, ${Os.cpus().length} cores`
  )
  const creation = fileCreationMicros()
  console.log(
    `  run logs under ${logRoot()}: creating a file there costs ${creation.toFixed(0)} µs of CPU${
      creation > 100
        ? " (many files were deleted near it in the last minutes: ext4 without a journal then checks each free inode; expect lower figures)"
        : ""
    }`
  )
  await measure("ceiling.ts", 900_000_000, { triggers: Math.min(TRIGGERS, 5000) })
  const ceilings: Array<Figures> = []
  const withFiles: Array<Figures> = []
  const executors: Array<Figures> = []
  const compare = compareBuild()
  const compared: Array<Figures> = []
  for (let round = 0; round < ROUNDS; round++) {
    ceilings.push(await measure("ceiling.ts", 1 + round * TRIGGERS))
    withFiles.push(await measure("ceiling.ts", 5_000_000 + round * TRIGGERS, { env: { CEILING_LOG_FILES: "1" } }))
    const [now, then] = await inTurn(
      round,
      () => measure("executor.ts", 10_000_000 + round * TRIGGERS),
      compare && (() => measure("executor.ts", 15_000_000 + round * TRIGGERS, { build: compare.build }))
    )
    executors.push(now)
    if (then !== undefined) compared.push(then)
    console.log(
      `  round ${round + 1}: ceiling ${ceilings[round].throughput.toFixed(0)}, with log files ${
        withFiles[round].throughput.toFixed(0)
      }, effect-xxl-job ${executors[round].throughput.toFixed(0)}${
        compare === undefined ? "" : ` (at ${compare.ref} ${compared[round].throughput.toFixed(0)})`
      } results/s; CPU per trigger ${ceilings[round].cpu.total.toFixed(0)}, ${withFiles[round].cpu.total.toFixed(0)}, ${
        executors[round].cpu.total.toFixed(0)
      }${compare === undefined ? "" : ` (${compared[round].cpu.total.toFixed(0)})`} µs`
    )
  }
  const ceiling = median(ceilings)
  const ceilingWithFiles = median(withFiles)
  const executor = median(executors)
  show("ceiling (bare node:http)", ceiling)
  show("ceiling + log files", ceilingWithFiles)
  show("effect-xxl-job", executor)
  if (compare !== undefined) showCompared(compare.ref, executors, compared, median)
  console.log(
    `  ratio to the ceiling    ${
      (executor.throughput / ceiling.throughput).toFixed(2)
    } (target ≥ 0.60; medians of ${ROUNDS} rounds)`
  )
  console.log(
    `  ratio to the ceiling with Java's log file per run ${
      (executor.throughput / ceilingWithFiles.throughput).toFixed(2)
    } (the disk's share of the gap; the ceiling alone writes none)`
  )
  // Latency at a given throughput: a fixed rate, not as fast as it answers. Under a load that waits for each
  // answer before the next, latency is only the queue (Little's law: 64 in flight at 3000/s is 21 ms each,
  // however fast a single trigger is), so the figures above grow as throughput falls and say little.
  if (RATE_ROUNDS < 1) return
  const rate = Math.round(RATE_SHARE * ceiling.throughput)
  console.log(
    `  at a fixed ${rate} triggers/s (${RATE_SHARE} of the ceiling's throughput), ${RATE_TRIGGERS} triggers, ${RATE_ROUNDS} rounds, latency from when each was due:`
  )
  const ceilingsAtRate: Array<Figures> = []
  const executorsAtRate: Array<Figures> = []
  const comparedAtRate: Array<Figures> = []
  for (let round = 0; round < RATE_ROUNDS; round++) {
    ceilingsAtRate.push(
      await measure("ceiling.ts", 20_000_000 + round * RATE_TRIGGERS, { triggers: RATE_TRIGGERS, rate })
    )
    const [now, then] = await inTurn(
      round,
      () => measure("executor.ts", 30_000_000 + round * RATE_TRIGGERS, { triggers: RATE_TRIGGERS, rate }),
      compare &&
        (() =>
          measure("executor.ts", 40_000_000 + round * RATE_TRIGGERS, {
            triggers: RATE_TRIGGERS,
            rate,
            build: compare.build
          }))
    )
    executorsAtRate.push(now)
    if (then !== undefined) comparedAtRate.push(then)
    const ceilingRound = ceilingsAtRate[round]
    const p99 = (f: Figures) => `${f.run[1].toFixed(1)} ms`
    const cpu = (f: Figures) => f.cpu.total.toFixed(0)
    const stall = (f: Figures) => f.generatorStall.toFixed(0)
    console.log(
      `  round ${round + 1}: /run p99 ceiling ${p99(ceilingRound)}, effect-xxl-job ${p99(now)}${
        then === undefined ? "" : ` (at ${compare!.ref} ${p99(then)})`
      }; CPU per trigger ${cpu(ceilingRound)}, ${cpu(now)}${
        then === undefined ? "" : ` (${cpu(then)})`
      } µs; the generator's longest stall ${stall(ceilingRound)}, ${stall(now)}${
        then === undefined ? "" : ` (${stall(then)})`
      } ms`
    )
  }
  const ceilingAtRate = medianBy(ceilingsAtRate, (f) => f.run[1])
  const executorAtRate = medianBy(executorsAtRate, (f) => f.run[1])
  show("ceiling (bare node:http)", ceilingAtRate)
  show("effect-xxl-job", executorAtRate)
  if (compare !== undefined) {
    showCompared(compare.ref, executorsAtRate, comparedAtRate, (rounds) => medianBy(rounds, (f) => f.run[1]))
  }
  console.log(
    `  /run p99                ${
      ms(executorAtRate.run[1])
    } at ${rate} triggers/s (target < 25 ms; median of ${RATE_ROUNDS} rounds by p99)`
  )
}
