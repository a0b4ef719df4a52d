/**
 * `npm run bench`: the executor's figures, measured in one run on this machine, each printed beside its
 * target. Every target runs in a process of its own; the bench process is the load generator and a loopback
 * admin sink (it takes callbacks and notes when each result arrived). Everything is on 127.0.0.1.
 *
 * Parts (`PARTS`, comma-separated, default `throughput,scale,kill,logs`):
 * - throughput (`bench/throughput.ts`): `TRIGGERS` (15000) `/run` triggers of a trivial job over `CONNECTIONS`
 *   (64) keep-alive connections across `JOB_IDS` (1000) jobIds, to the executor (file logging and the durable
 *   outbox on) and to a ceiling (`bench/targets/ceiling.ts`: bare node:http that parses, answers and batches
 *   an echo result), alternating for `ROUNDS` (5) rounds, each target process after `WARMUP` (3000) uncounted
 *   triggers (a fresh process compiles its hot paths over those). For each: results at the admin per second,
 *   `/run` p50/p99, trigger-to-result p50/p99 of its median round; then the executor's throughput as a ratio
 *   of the ceiling's. Last, `/run` latency at a fixed rate of `RATE_SHARE` (0.6) of the ceiling's throughput
 *   (`RATE_TRIGGERS` (40000) after `RATE_WARMUP_SECONDS` (1) uncounted at that rate, `RATE_ROUNDS` (3)), timed
 *   from when each trigger was due.
 * - scale (`bench/scale.ts`): for each N in `SCALE` (`1000,10000,100000`), a fresh executor with N jobs
 *   running at once (each sleeping until killed): its RSS and the memory per running job, `/beat` p50/p99
 *   over `BEATS` (200) sequential beats while they run, and last the live heap per running job after a full
 *   GC (the executor target answers SIGUSR2 with its `process.memoryUsage()`). `SCALE_TIMEOUT_SECONDS` (60)
 *   bounds the triggers of one N.
 * - kill (`bench/kill.ts`): with `KILL_RUNNING` (10000) jobs running (once the executor is quiet again),
 *   `KILLS` (1000) `/kill` at `KILL_RATE` (200) per second, each timed from when it was due: `/kill` to the
 *   killed run's result at the admin, p50/p99, and the `/kill` answer; then a burst of `KILL_BURST` (1000),
 *   `KILL_CONCURRENCY` (8) at a time, for kills per second. `KILL_TIMEOUT_SECONDS` (60) bounds the part.
 * - logs (`bench/logs.ts`): one run writes `LOG_LINES` (1000000) lines with `Effect.log` (run log cap raised
 *   to 1 GiB): lines per second from trigger to result; then `/log` at line 1, the middle and near the end,
 *   `LOG_PROBES` (5) times each (p50, lines per page), and paging through the whole log.
 *   `LOG_RUN_TIMEOUT_SECONDS` (60) bounds the run, `LOG_READ_TIMEOUT_SECONDS` (30) each phase of reads.
 *
 * Run logs (one file per run, as Java lays them out) go to tmpfs (`/dev/shm`) where there is one, else the OS
 * temp dir; `BENCH_LOG_DIR` chooses (see `logRoot` in `bench/lib.ts` for why a disk makes poor figures here).
 *
 * The targets run the package compiled with `tsc` (into `node_modules/.cache/`, a few seconds first), on plain
 * node, as an installed executor runs; `BENCH_SOURCE=1` runs the sources under tsx instead.
 *
 * A part that runs out of time, or fails, prints "did not finish" and the bench goes on with the next.
 * Develop with small sizes, e.g. `SCALE=1000 LOG_LINES=100000 npm run bench`; on a shared machine wrap runs
 * in `flock /tmp/bench.lock …` so that two benches never measure each other.
 * `PROFILE=dir npm run bench` writes a CPU profile of every executor process into `dir` (open it in Chrome's
 * DevTools, Performance tab).
 *
 * `COMPARE=<git ref>` (throughput part) also measures the package as it was at that commit, in every round
 * beside this one, alternating which goes first, and prints the medians of the rounds' ratios. Use it to judge
 * a change: on a shared machine, runs minutes apart differ by more than most changes do.
 */
import * as Os from "node:os"
import * as Kill from "./kill.js"
import { packageBuild, removeLogDirs, seconds } from "./lib.js"
import * as Logs from "./logs.js"
import * as Scale from "./scale.js"
import * as Throughput from "./throughput.js"

const parts: Record<string, () => Promise<void>> = {
  throughput: Throughput.run,
  scale: Scale.run,
  kill: Kill.run,
  logs: Logs.run
}

const selected = (process.env.PARTS ?? Object.keys(parts).join(",")).split(",").map((name) => name.trim()).filter((
  name
) => name !== "")
const unknown = selected.filter((name) => !(name in parts))
if (unknown.length > 0) {
  console.error(`PARTS: unknown ${unknown.join(", ")}; the parts are ${Object.keys(parts).join(", ")}`)
  process.exit(2)
}

const started = performance.now()
const build = packageBuild()
console.log(
  build === undefined
    ? "bench: the sources, under tsx (BENCH_SOURCE=1)"
    : "bench: the package compiled with tsc, as it ships"
)
for (const name of selected) {
  try {
    await parts[name]()
  } catch (error) {
    console.log(`  ${name} did not finish: ${(error as Error).message}`)
  }
}
console.log(`bench: ${selected.join(", ")} in ${seconds(performance.now() - started)} on ${Os.cpus().length} cores`)
const removing = performance.now()
removeLogDirs()
console.log(`bench: its run logs removed in ${seconds(performance.now() - removing)}`)
