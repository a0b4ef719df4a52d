/**
 * What the bench's parts share: the loopback admin sink, target processes, requests to them, percentiles,
 * the executor's RSS, and deadlines that turn a stuck part into a "did not finish" line instead of a hang.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const here = import.meta.dirname

/** p50 and p99 (nearest rank, rounded down); NaN for no values, so an empty series prints as such. */
export const percentiles = (values: ReadonlyArray<number>): readonly [number, number] => {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (p: number) =>
    sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
  return [at(0.5), at(0.99)]
}

export const ms = (n: number) => `${n.toFixed(1).padStart(7)} ms`
export const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`
export const seconds = (millis: number) => `${(millis / 1000).toFixed(1)} s`

/** One result as the executor reports it (classic protocol). */
export interface CallbackItem {
  readonly logId: number
  readonly handleCode: number
  readonly handleMsg?: string | null
}

/**
 * The admin sink: answers everything 200, and hands over each callback's items with the time the request
 * that carried them was complete (so a batch's items share one arrival time, as the admin would see them).
 */
export const startSink = (onResult: (item: CallbackItem, arrivedAt: number) => void) =>
  new Promise<{ url: string; close: () => void }>((resolve) => {
    const server = Http.createServer((req, res) => {
      let body = ""
      req.setEncoding("utf8")
      req.on("data", (chunk) => body += chunk)
      req.on("end", () => {
        if (req.url?.endsWith("/api/callback")) {
          const arrivedAt = performance.now()
          for (const item of JSON.parse(body) as Array<CallbackItem>) onResult(item, arrivedAt)
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

export interface Target {
  readonly port: number
  readonly pid: number
  /** SIGTERM, and waits for the exit (the executor drains first). */
  readonly stop: () => Promise<void>
  /** SIGKILL, and waits for the exit: for parts whose results no longer matter. */
  readonly kill: () => Promise<void>
  /**
   * The executor's `process.memoryUsage()` after a full GC (`bench/targets/executor.ts` answers SIGUSR2 with
   * it): what its RSS is made of, and how much of the heap is live. Undefined when no answer came in time.
   * Not for the ceiling, which has no such handler (SIGUSR2 would end it).
   */
  readonly memory: () => Promise<NodeJS.MemoryUsage | undefined>
}

/** Targets still running: killed when the bench exits, so that a part that failed leaves no process behind. */
const live = new Set<ChildProcess.ChildProcess>()
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL")
})

/**
 * The package compiled as it ships (`tsc`), with the bench's targets, into `node_modules/.cache/` (so that
 * their imports resolve), built once per bench: the targets run from there on plain node. Under tsx the
 * executor costs ~10 µs more per trigger (esbuild's transforms, a `__name` call per closure), which no
 * installed executor pays. `BENCH_SOURCE=1` runs the sources under tsx instead.
 */
let built: string | undefined
export const packageBuild = (): string | undefined => {
  if (process.env.BENCH_SOURCE === "1") return undefined
  if (built !== undefined) return built
  const dir = Path.join(here, "..", "node_modules", ".cache", "effect-xxl-job-bench")
  Fs.rmSync(dir, { recursive: true, force: true })
  ChildProcess.execFileSync(process.execPath, [
    Path.join(here, "..", "node_modules", "typescript", "bin", "tsc"),
    "-p",
    Path.join(here, "tsconfig.targets.json"),
    "--outDir",
    dir
  ], { stdio: "inherit" })
  built = dir
  return dir
}

/**
 * `COMPARE=<git ref>`: the package as it was at that commit, compiled as `packageBuild` compiles this one, for
 * the throughput part to measure beside it in the same run. Its sources are taken with `git archive` into
 * `node_modules/.cache/` (so that they resolve this checkout's packages). On a shared machine, figures taken
 * in separate runs minutes apart differ by more than most changes do; side by side, alternating, they don't.
 */
let compared: { readonly ref: string; readonly build: string } | undefined
export const compareBuild = (): { readonly ref: string; readonly build: string } | undefined => {
  const ref = process.env.COMPARE
  if (ref === undefined || ref === "") return undefined
  if (compared !== undefined) return compared
  if (packageBuild() === undefined) throw new Error("COMPARE needs the compiled package (not BENCH_SOURCE=1)")
  const root = Path.join(here, "..")
  const cache = Path.join(root, "node_modules", ".cache")
  const commit = ChildProcess.execFileSync("git", ["rev-parse", "--short", ref], { cwd: root }).toString().trim()
  const sources = Path.join(cache, "effect-xxl-job-compare-src")
  const build = Path.join(cache, "effect-xxl-job-compare")
  for (const dir of [sources, build]) Fs.rmSync(dir, { recursive: true, force: true })
  Fs.mkdirSync(sources, { recursive: true })
  const archive = Path.join(sources, "sources.tar")
  ChildProcess.execFileSync("git", ["archive", "-o", archive, commit, "src", "bench", "tsconfig.base.json"], {
    cwd: root
  })
  ChildProcess.execFileSync("tar", ["-xf", archive, "-C", sources])
  ChildProcess.execFileSync(process.execPath, [
    Path.join(root, "node_modules", "typescript", "bin", "tsc"),
    "-p",
    Path.join(sources, "bench", "tsconfig.targets.json"),
    "--outDir",
    build
  ], { stdio: "inherit" })
  compared = { ref: commit.startsWith(ref) ? commit : `${ref} (${commit})`, build }
  return compared
}

/**
 * Starts a target process (`bench/targets/<script>`) and waits for its `READY <port>`: of this package's build,
 * or of `build` (see `compareBuild`).
 */
export const startTarget = (script: string, env: Record<string, string>, build = built) =>
  new Promise<Target>((resolve, reject) => {
    // PROFILE=<dir> writes a CPU profile of the executor (or of PROFILE_SCRIPT, e.g. ceiling.ts) there.
    const profile = process.env.PROFILE && script === (process.env.PROFILE_SCRIPT ?? "executor.ts")
      ? ["--cpu-prof", `--cpu-prof-dir=${process.env.PROFILE}`]
      : []
    const child = ChildProcess.spawn(process.execPath, [
      ...profile,
      "--expose-gc",
      // Compiled, on plain node (see `packageBuild`); else the source under tsx.
      ...(build === undefined
        ? ["--import", "tsx", Path.join(here, "targets", script)]
        : [Path.join(build, "bench", "targets", script.replace(/\.ts$/, ".js"))])
    ], {
      env: { ...process.env, ...env, ...(build === undefined ? {} : { BENCH_BUILD: Path.join(build, "src") }) },
      stdio: ["ignore", "pipe", "inherit"]
    })
    live.add(child)
    const exited = new Promise<void>((done) =>
      child.on("exit", () => {
        live.delete(child)
        done()
      })
    )
    const signal = (name: NodeJS.Signals) => () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(name)
      return exited
    }
    // Whoever waits for the next MEMORY line.
    let onMemory: ((usage: NodeJS.MemoryUsage) => void) | undefined
    const memory = () =>
      new Promise<NodeJS.MemoryUsage | undefined>((resolve) => {
        const timer = setTimeout(() => {
          onMemory = undefined
          resolve(undefined)
        }, 10_000)
        onMemory = (usage) => {
          clearTimeout(timer)
          onMemory = undefined
          resolve(usage)
        }
        child.kill("SIGUSR2")
      })
    let out = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      out += chunk
      let newline: number
      while ((newline = out.indexOf("\n")) >= 0) {
        const line = out.slice(0, newline)
        out = out.slice(newline + 1)
        const ready = /^READY (\d+)/.exec(line)
        if (ready) {
          // The pid is that of the node process running the target itself (no shell or wrapper between).
          resolve({ port: Number(ready[1]), pid: child.pid!, stop: signal("SIGTERM"), kill: signal("SIGKILL"), memory })
        } else if (line.startsWith("MEMORY ")) {
          onMemory?.(JSON.parse(line.slice(7)) as NodeJS.MemoryUsage)
        }
      }
    })
    child.on("exit", (code) => reject(new Error(`${script} exited (${code}) before it was ready: ${out}`)))
  })

/**
 * POSTs `body` to `path` and resolves with the reply's text. With `timeoutMs`, a reply not complete by then
 * (however much of it has arrived) fails the request, so a slow or huge reply cannot stall a part.
 */
export const post = (agent: Http.Agent, port: number, path: string, body: string, timeoutMs?: number) =>
  new Promise<string>((resolve, reject) => {
    const req = Http.request(
      { agent, host: "127.0.0.1", port, path, method: "POST", headers: { "content-type": "application/json" } },
      (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (chunk) => text += chunk)
        res.on("end", () => {
          clearTimeout(timer)
          resolve(text)
        })
        res.on("error", reject)
      }
    )
    const timer = timeoutMs === undefined
      ? undefined
      : setTimeout(() => req.destroy(new Error(`${path} took over ${Math.round(timeoutMs)} ms`)), timeoutMs)
    req.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    req.end(body)
  })

/** A `/run` body as the admin sends it. */
export const triggerBody = (options: {
  readonly jobId: number
  readonly logId: number
  readonly handler: string
  readonly params?: string
  readonly logDateTime?: number
}) =>
  JSON.stringify({
    jobId: options.jobId,
    executorHandler: options.handler,
    executorParams: options.params ?? "",
    executorBlockStrategy: "SERIAL_EXECUTION",
    executorTimeout: 0,
    logId: options.logId,
    logDateTime: options.logDateTime ?? Date.now(),
    glueType: "BEAN",
    broadcastIndex: 0,
    broadcastTotal: 1
  })

export const accepted = (reply: string) => reply.startsWith("{\"code\":200")

/**
 * What creating a file costs here, in µs of CPU per file (5,000 files, kept until the bench ends): run logs
 * are a file per run, so this bounds every figure with file logging on. On ext4 without a journal it rises
 * ~10× for minutes after many files near the same place were deleted (the kernel checks each free inode for
 * a recent deletion); the bench and the tests delete many.
 */
export const fileCreationMicros = (): number => {
  const dir = tempLogDir()
  const count = 5000
  const started = process.cpuUsage()
  for (let i = 0; i < count; i++) {
    const fd = Fs.openSync(Path.join(dir, `${i}.log`), "a")
    Fs.writeSync(fd, "2026-01-01 00:00:00 [probe]-[INFO]-[main] a line as a run log starts\n")
    Fs.closeSync(fd)
  }
  const used = process.cpuUsage(started)
  return (used.user + used.system) / count
}

/**
 * CPU time a process has used so far, in µs: all its threads, and its main thread alone (from `/proc`, so
 * Linux only; zeros elsewhere). Unlike throughput, it barely moves when the machine is busy with others.
 */
export const cpuMicros = (pid: number): { readonly total: number; readonly main: number } => {
  const ticks = (stat: string) => {
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return Number(fields[11]) + Number(fields[12])
  }
  const perTick = 1e6 / 100 // USER_HZ is 100 on Linux
  try {
    return {
      total: ticks(Fs.readFileSync(`/proc/${pid}/stat`, "utf8")) * perTick,
      main: ticks(Fs.readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8")) * perTick
    }
  } catch {
    return { total: 0, main: 0 }
  }
}

/** A field of `/proc/<pid>/status` in KiB (VmRSS: resident now; VmHWM: the peak so far). */
export const statusKiB = (pid: number, field: "VmRSS" | "VmHWM"): number => {
  const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`)
  return Number(match[1])
}

export const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/**
 * Waits until process `pid` is quiet: under `busyShare` of one core over a 250 ms window (all its threads),
 * or `until` passes. After a burst of triggers the executor's log thread may still be creating the runs' log
 * files for seconds (each costs 25–700 µs here, see `fileCreationMicros`); a figure measured meanwhile would
 * measure that backlog too. Resolves with the time it waited, in ms.
 */
export const quiet = async (pid: number, until: Deadline, busyShare = 0.05): Promise<number> => {
  const started = performance.now()
  const windowMs = 250
  let before = cpuMicros(pid).total
  while (!until.expired()) {
    await sleep(windowMs)
    const now = cpuMicros(pid).total
    if (now - before < busyShare * windowMs * 1000) break
    before = now
  }
  return performance.now() - started
}

/** A point in time a part must be done by. */
export interface Deadline {
  readonly expired: () => boolean
  readonly remaining: () => number
}

export const deadline = (millis: number): Deadline => {
  const end = performance.now() + millis
  return { expired: () => performance.now() >= end, remaining: () => Math.max(0, end - performance.now()) }
}

/** Resolves true once `work` has settled, or false once `millis` have passed first (it is left running). */
export const within = (work: Promise<unknown>, millis: number): Promise<boolean> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), millis))
  return Promise.race([work.then(() => true), timeout]).finally(() => clearTimeout(timer))
}

/**
 * Runs `task(i)` for i = 0..count-1 with at most `concurrency` at once, in order of i, until all are done
 * or the deadline passes; resolves with how many were started. A failing task fails the whole.
 */
export const pool = async (
  count: number,
  concurrency: number,
  until: Deadline,
  task: (i: number) => Promise<void>
): Promise<number> => {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count && !until.expired()) await task(next++)
  }))
  return next
}

/**
 * Runs `task(i, due)` for i = 0..count-1 at `perSecond`, whatever the answers: task i is due at start +
 * i / perSecond, and gets that time so that its latency counts from then (a slow answer delays no later
 * task's clock: no coordinated omission). Resolves once all have settled, or with those started by the deadline.
 */
export const atRate = async (
  count: number,
  perSecond: number,
  until: Deadline,
  task: (i: number, due: number) => Promise<void>
): Promise<number> => {
  const started = performance.now()
  const tasks: Array<Promise<void>> = []
  let next = 0
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(count, Math.floor((performance.now() - started) * perSecond / 1000) + 1)
      for (; next < due; next++) tasks.push(task(next, started + next * 1000 / perSecond))
      if (next < count && !until.expired()) setTimeout(tick, 1)
      else resolve()
    }
    tick()
  })
  await Promise.all(tasks)
  return next
}

/** Log dirs made by this bench, removed when it exits. */
const logDirs: Array<string> = []

/** Removes the log dirs made so far (hundreds of thousands of files after a whole bench: a minute on a disk). */
export const removeLogDirs = () => {
  for (const dir of logDirs.splice(0)) Fs.rmSync(dir, { recursive: true, force: true })
}
process.on("exit", removeLogDirs)

/**
 * Where the targets' run logs go: `BENCH_LOG_DIR`, else tmpfs (`/dev/shm`) where there is one, else the OS temp
 * dir. On a disk the cost of creating a file depends on the disk's recent past: on ext4 without a journal it
 * is 25–50 µs, and 200 µs to over 1 ms for minutes after many files near it were deleted (as a bench deletes
 * its ~400,000 when it ends, and a test run its own), which moves every figure with file logs by ±40% from
 * one run to the next. On tmpfs the files are as real, and the figures are the executor's, not the disk's
 * state; `BENCH_LOG_DIR=/tmp npm run bench` measures a disk.
 */
export const logRoot = (): string => {
  if (process.env.BENCH_LOG_DIR) return process.env.BENCH_LOG_DIR
  try {
    Fs.accessSync("/dev/shm", Fs.constants.W_OK)
    return "/dev/shm"
  } catch {
    return Os.tmpdir()
  }
}

/**
 * A fresh dir for a target's logs, under `logRoot()`. On a disk it is removed when the bench ends, not when
 * the target stops: deleting tens of thousands of files keeps a disk busy for a while, and the next
 * measurement, not this one, would pay for it. On tmpfs, `releaseLogDir` removes it at once.
 */
export const tempLogDir = () => {
  const dir = Fs.mkdtempSync(Path.join(logRoot(), "xxl-bench-"))
  logDirs.push(dir)
  return dir
}

/** The filesystem type Linux reports for tmpfs (`statfs`'s f_type). */
const tmpfsMagic = 0x01021994

/**
 * Lets go of a target's log dir once the target has stopped: at once on tmpfs, at the bench's end elsewhere
 * (see `tempLogDir`). On tmpfs every file kept makes the next ones dearer: with 400,000 earlier run logs left
 * in /dev/shm the executor's log thread took 12.5 µs per trigger instead of 6.1 (measured), so the rounds
 * late in a bench, and the executor with its files more than the ceiling, paid for the rounds before them.
 */
export const releaseLogDir = (dir: string) => {
  if (Fs.statfsSync(dir).type !== tmpfsMagic) return
  Fs.rmSync(dir, { recursive: true, force: true })
  const at = logDirs.indexOf(dir)
  if (at >= 0) logDirs.splice(at, 1)
}

/**
 * An executor (`bench/targets/executor.ts`) of its own, with a sink and a fresh temp log dir, all on
 * 127.0.0.1. `close` kills it (SIGKILL: the parts that use this do not need its drain; under `PROFILE`, SIGTERM
 * with no shutdown grace, so that it exits on its own and writes its profile).
 */
export const startExecutor = async (
  onResult: (item: CallbackItem, arrivedAt: number) => void,
  env: Record<string, string> = {}
) => {
  const sink = await startSink(onResult)
  const logPath = tempLogDir()
  try {
    // Under PROFILE the process must exit on its own to write its profile: SIGTERM, with no grace for the runs.
    const profiled = process.env.PROFILE !== undefined
    const target = await startTarget("executor.ts", {
      ...executorEnv(sink.url, logPath),
      ...(profiled ? { XXL_JOB_EXECUTOR_SHUTDOWN_GRACE_SECONDS: "0" } : {}),
      ...env
    })
    const close = async () => {
      await (profiled ? target.stop() : target.kill())
      sink.close()
      releaseLogDir(logPath)
    }
    return { target, logPath, close }
  } catch (error) {
    sink.close()
    throw error
  }
}

/** The settings every target gets: loopback only, a free port, logs and journal under `logPath`. */
export const executorEnv = (sinkUrl: string, logPath: string): Record<string, string> => ({
  XXL_JOB_ADMIN_ADDRESSES: sinkUrl,
  XXL_JOB_EXECUTOR_APPNAME: "bench",
  XXL_JOB_EXECUTOR_IP: "127.0.0.1",
  XXL_JOB_EXECUTOR_HOST: "127.0.0.1",
  XXL_JOB_EXECUTOR_PORT: "0",
  XXL_JOB_EXECUTOR_LOGPATH: logPath
})

/** Sends `count` sleeping triggers (jobIds 0..count-1, logIds from `firstLogId`), as fast as the connections go. */
export const triggerSleepers = async (
  agent: Http.Agent,
  port: number,
  count: number,
  connections: number,
  firstLogId: number,
  until: Deadline
): Promise<{ accepted: number; refusal: string | undefined }> => {
  let ok = 0
  let refusal: string | undefined
  await pool(count, connections, until, async (jobId) => {
    if (refusal !== undefined) return
    const reply = await post(agent, port, "/run", triggerBody({ jobId, logId: firstLogId + jobId, handler: "sleep" }))
    if (accepted(reply)) ok++
    else refusal ??= reply
  })
  return { accepted: ok, refusal }
}
