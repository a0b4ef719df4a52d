/**
 * Throughput: `TRIGGERS` `/run` triggers of a trivial job over `CONNECTIONS` keep-alive connections across
 * `JOB_IDS` jobIds, sent to the executor and to the bare node:http ceiling in turn; results at the admin per
 * second, `/run` latency and trigger-to-result latency for each, and the executor's ratio to the ceiling.
 *
 * On a small shared machine one run of each varies by ±15%, so the two alternate for `ROUNDS` (5) rounds and
 * the figures compared are each side's median round (by throughput). A short uncounted round against the
 * ceiling first warms up this process (the load generator): its first round was always the slowest.
 */
import * as Http from "node:http"
import * as Os from "node:os"
import {
  cpuMicros,
  executorEnv,
  fileCreationMicros,
  ms,
  percentiles,
  post,
  startSink,
  startTarget,
  tempLogDir
} from "./lib.js"

const TRIGGERS = Number(process.env.TRIGGERS ?? 20_000)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64)
const JOB_IDS = Number(process.env.JOB_IDS ?? 1000)
const ROUNDS = Number(process.env.ROUNDS ?? 5)

interface Figures {
  readonly throughput: number
  readonly run: readonly [number, number]
  readonly result: readonly [number, number]
  /** CPU µs per trigger: the target's threads together, and its main thread. */
  readonly cpu: { readonly total: number; readonly main: number }
}

/** Drives one target with the load; logIds start at `firstLogId` so the targets never share one. */
const measure = async (
  script: string,
  firstLogId: number,
  triggers = TRIGGERS,
  env: Record<string, string> = {}
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
  const target = await startTarget(script, {
    ...executorEnv(sink.url, logPath),
    XXL_JOB_EXECUTOR_QUEUE_LIMIT: String(triggers),
    ...env
  })
  const agent = new Http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const runLatencies: Array<number> = []
  let next = 0
  const cpuBefore = cpuMicros(target.pid)
  const started = performance.now()
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (next < triggers) {
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
      const reply = await post(agent, target.port, "/run", body)
      runLatencies.push(performance.now() - t0)
      if (!reply.startsWith("{\"code\":200")) throw new Error(`${script} refused a trigger: ${reply}`)
    }
  }))
  await allResults
  const seconds = (performance.now() - started) / 1000
  const cpuAfter = cpuMicros(target.pid)
  agent.destroy()
  await target.stop()
  sink.close()
  return {
    throughput: triggers / seconds,
    run: percentiles(runLatencies),
    result: percentiles(resultLatencies),
    cpu: {
      total: (cpuAfter.total - cpuBefore.total) / triggers,
      main: (cpuAfter.main - cpuBefore.main) / triggers
    }
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

const median = (rounds: Array<Figures>) =>
  [...rounds].sort((a, b) => a.throughput - b.throughput)[Math.floor((rounds.length - 1) / 2)]

export const run = async () => {
  console.log(
    `effect-xxl-job bench: ${TRIGGERS} triggers per target, ${CONNECTIONS} connections, ${JOB_IDS} jobIds, ${ROUNDS} rounds, ${Os.cpus().length} cores`
  )
  const creation = fileCreationMicros()
  console.log(
    `  creating a file in the log folder here costs ${creation.toFixed(0)} µs of CPU${
      creation > 100
        ? " (many files were deleted near it in the last minutes: ext4 without a journal then checks each free inode; expect lower figures)"
        : ""
    }`
  )
  await measure("ceiling.ts", 900_000_000, Math.min(TRIGGERS, 5000))
  const ceilings: Array<Figures> = []
  const withFiles: Array<Figures> = []
  const executors: Array<Figures> = []
  for (let round = 0; round < ROUNDS; round++) {
    ceilings.push(await measure("ceiling.ts", 1 + round * TRIGGERS))
    withFiles.push(await measure("ceiling.ts", 5_000_000 + round * TRIGGERS, TRIGGERS, { CEILING_LOG_FILES: "1" }))
    executors.push(await measure("executor.ts", 10_000_000 + round * TRIGGERS))
    console.log(
      `  round ${round + 1}: ceiling ${ceilings[round].throughput.toFixed(0)}, with log files ${
        withFiles[round].throughput.toFixed(0)
      }, effect-xxl-job ${executors[round].throughput.toFixed(0)} results/s; CPU per trigger ${
        ceilings[round].cpu.total.toFixed(0)
      }, ${withFiles[round].cpu.total.toFixed(0)}, ${executors[round].cpu.total.toFixed(0)} µs`
    )
  }
  const ceiling = median(ceilings)
  const ceilingWithFiles = median(withFiles)
  const executor = median(executors)
  show("ceiling (bare node:http)", ceiling)
  show("ceiling + log files", ceilingWithFiles)
  show("effect-xxl-job", executor)
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
  console.log(`  /run p99               ${ms(executor.run[1])} (target < 25 ms)`)
}
