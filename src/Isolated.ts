/**
 * Isolated jobs: a job whose code runs in a worker thread of its own, loaded from a module. A cooperative job
 * (an Effect, a Promise) shares the executor's event loop: CPU-bound work or a synchronous library freezes
 * every endpoint, and a kill cannot even arrive. An isolated job cannot: the executor keeps answering while
 * it runs, and kill, timeout and cover terminate its thread for real, whatever it is doing.
 *
 * The module exports an async function, `(context, signal) => result`, the same contract as
 * `Job.fromPromise`: `context.log` and `console.*` write to the run's log, the resolved string is the result,
 * a rejection fails the run (`{ _tag: "JobFailed", message }`, or a `Job.JobFailed`, fails it with just that
 * message). Each run gets a fresh thread, so nothing leaks from one run to the next.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Isolated } from "effect-xxl-job"
 *
 * // jobs/primes.js: export default async (context, signal) => `${countPrimesBelow(context.params)} primes`
 * const Primes = Isolated.make({
 *   name: "primes",
 *   module: new URL("./jobs/primes.js", import.meta.url),
 *   params: Schema.NumberFromString
 * })
 * ```
 *
 * @since 1.0.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import * as Url from "node:url"
import * as WorkerThreads from "node:worker_threads"
import { locate } from "./internal/isolatedModule.js"
import { tsxEsmApi, underTsx } from "./internal/tsx.js"
import * as Job from "./Job.js"

/**
 * The isolated job's code failed: its error as the worker saw it, the stack included.
 *
 * @since 1.0.0
 * @category errors
 */
export class IsolatedJobError extends Data.TaggedError("IsolatedJobError")<{
  readonly message: string
  readonly remoteStack: string | undefined
}> {
  constructor(props: { readonly message: string; readonly remoteStack: string | undefined }) {
    super(props)
    // Where it failed is in the worker: the stack captured here would only show the message port.
    this.stack = props.remoteStack ?? `IsolatedJobError: ${props.message}`
  }
}

/**
 * Options of an isolated job.
 *
 * @since 1.0.0
 * @category models
 */
export interface Options {
  readonly name: string
  readonly description?: string | undefined
  /**
   * The module, as a file URL or an absolute path: `new URL("./jobs/report.js", import.meta.url)`. Named
   * as TypeScript's imports are (`.js`), it is the compiled file, or under tsx, where that is not there, the
   * `.ts` source beside it. A module that cannot be found fails each run, saying why.
   */
  readonly module: URL | string
  /** The exported function to call (default: `default`). */
  readonly export?: string | undefined
  /**
   * Where each run goes: `"thread"` (default), a worker thread; or `"process"`, a child Node process of its
   * own (about three times dearer to start), for code that may crash its process (native addons) or must not
   * share the executor's memory. Both are ended for real by kill, timeout and cover.
   */
  readonly in?: "thread" | "process" | undefined
  /**
   * Memory limits: a run past them fails alone, the executor is untouched. In a process, only
   * `maxOldGenerationSizeMb` applies (as `--max-old-space-size`).
   */
  readonly resourceLimits?: WorkerThreads.ResourceLimits | undefined
}

/**
 * What runs in the thread or process before the job: it loads the module and calls the function. Everything
 * the job says (its `context.log`, its console, its result) goes over one ordered channel, so the result never
 * overtakes a line of its log. `channel` is the thread's port or the process's IPC.
 */
const bootstrap = (channel: string) => `
const { format } = require("node:util")
const channel = ${channel}
const send = (message, then) => channel.send(message, then)
const controller = new AbortController()
const describe = (error) => {
  if (error !== null && typeof error === "object") {
    return {
      tag: typeof error._tag === "string" ? error._tag : undefined,
      message: String(error.message ?? error),
      stack: typeof error.stack === "string" ? error.stack : undefined,
      code: typeof error.code === "number" ? error.code : undefined
    }
  }
  return { message: String(error) }
}
// Direct writes to stdout and stderr too, a line at a time; a last partial line goes before the result.
const lineWriter = () => {
  let rest = ""
  return {
    write: (chunk) => {
      const lines = (rest + (typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"))).split("\\n")
      rest = lines.pop()
      for (const line of lines) send({ kind: "raw", line })
    },
    flush: () => {
      if (rest !== "") send({ kind: "raw", line: rest })
      rest = ""
    }
  }
}
const writers = [process.stdout, process.stderr].map((stream) => {
  const writer = lineWriter()
  stream.write = (chunk, encoding, callback) => {
    writer.write(chunk)
    const done = typeof encoding === "function" ? encoding : callback
    if (typeof done === "function") done()
    return true
  }
  return writer
})
const start = ({ module, exportName, context: data, tsx }) => {
  for (const method of ["log", "info", "warn", "error", "debug", "trace"]) {
    console[method] = (...args) => send({ kind: "raw", line: format(...args) })
  }
  const context = {
    ...data,
    log: (message) => send({ kind: "log", message: String(message) }),
    logRaw: (line) => send({ kind: "raw", line: String(line) })
  }
  // Under tsx, a TypeScript module needs tsx's loader in this thread too (it registers per thread).
  const loader = tsx === undefined ? Promise.resolve() : import(tsx).then((api) => api.register())
  loader.then(() => import(module)).then((loaded) => {
    const run = loaded[exportName]
    if (typeof run !== "function") throw new Error(module + " exports no function named " + JSON.stringify(exportName))
    return run(context, controller.signal)
  }).then(
    (value) => ({ kind: "done", value: value === undefined || value === null ? undefined : typeof value === "string" ? value : JSON.stringify(value) }),
    (error) => ({ kind: "failed", error: describe(error) })
  ).then((result) => {
    for (const writer of writers) writer.flush()
    send(result, channel.finish)
  })
}
channel.onMessage((message) => {
  if (message === "abort") controller.abort()
  else start(message)
})
`

const threadChannel = `(() => {
  const { parentPort } = require("node:worker_threads")
  return {
    send: (message, then) => { parentPort.postMessage(message); then?.() },
    onMessage: (f) => parentPort.on("message", f),
    finish: undefined
  }
})()`

const processChannel = `{
  send: (message, then) => process.send(message, then),
  onMessage: (f) => process.on("message", f),
  // Done: the parent ends what the job left behind.
  finish: () => process.disconnect()
}`

type FromJob =
  | { readonly kind: "log"; readonly message: string }
  | { readonly kind: "raw"; readonly line: string }
  | { readonly kind: "done"; readonly value: string | undefined }
  | {
    readonly kind: "failed"
    readonly error: { tag?: string; message: string; stack?: string; code?: number }
  }

const moduleUrl = (module: URL | string): string => {
  if (module instanceof URL) return module.href
  if (module.startsWith("file:")) return module
  if (!module.startsWith("/")) {
    throw new Error(`Isolated.make: the module must be a file URL or an absolute path, got ${JSON.stringify(module)}`)
  }
  return Url.pathToFileURL(module).href
}

/** What one run needs, whatever it runs in. */
interface Launch {
  readonly module: string
  /** tsx's ESM API for a worker thread to register, for a TypeScript module under tsx (see `tsxFor`). */
  readonly tsx: string | undefined
  readonly exportName: string
  readonly context: Job.PromiseContext<unknown>
  readonly resourceLimits: WorkerThreads.ResourceLimits | undefined
}

type Settle = (outcome: Effect.Effect<Job.Outcome, Job.JobFailed | IsolatedJobError>) => void

/** Handles what the job sends; the run settles with its result. */
const receiver = (context: Job.PromiseContext<unknown>, settle: Settle) => (message: FromJob) => {
  switch (message.kind) {
    case "log":
      return context.log(message.message)
    case "raw":
      return context.logRaw(message.line)
    case "done":
      return settle(Effect.succeed(message.value))
    case "failed": {
      const { code, message: text, stack, tag } = message.error
      return settle(Effect.fail(
        tag === "JobFailed"
          ? new Job.JobFailed({ message: text, code })
          : new IsolatedJobError({ message: text, remoteStack: stack })
      ))
    }
  }
}

/**
 * tsx's ESM API, found from the job's module, when a TypeScript module is to run under tsx: its loader is not
 * inherited by worker threads (a child process gets the executor's flags, and tsx with them). Found once, at
 * `make`.
 */
const tsxFor = (module: string): string | undefined => {
  if (!underTsx || !/\.[cm]?ts$/.test(module)) return undefined
  const api = tsxEsmApi(Path.dirname(Url.fileURLToPath(module)))
  return api === undefined ? undefined : Url.pathToFileURL(api).href
}

const startData = ({ context, exportName, module, tsx }: Launch, mode: "thread" | "process") => {
  const { log: _log, logRaw: _logRaw, ...data } = context
  return { module, exportName, context: data, tsx: mode === "thread" ? tsx : undefined }
}

const exitedEarly = (what: string) =>
  Effect.fail(new IsolatedJobError({ message: `${what} before the job finished`, remoteStack: undefined }))

/** Runs the module's function in a new worker thread; the thread is terminated however the run ends. */
const runInThread = (launch: Launch) =>
  Effect.async<Job.Outcome, Job.JobFailed | IsolatedJobError>((resume) => {
    const worker = new WorkerThreads.Worker(bootstrap(threadChannel), {
      eval: true,
      ...(launch.resourceLimits === undefined ? {} : { resourceLimits: launch.resourceLimits })
    })
    try {
      worker.postMessage(startData(launch, "thread"))
    } catch (error) {
      // E.g. params that cannot be copied to another thread.
      void worker.terminate()
      resume(Effect.fail(new IsolatedJobError({ message: `cannot start the job: ${error}`, remoteStack: undefined })))
      return
    }
    let settled = false
    const settle: Settle = (outcome) => {
      if (settled) return
      settled = true
      // The job is over: whatever it left running in its thread (timers, sockets) ends with the thread.
      void worker.terminate()
      resume(outcome)
    }
    worker.on("message", receiver(launch.context, settle))
    worker.on("error", (error: Error & { readonly code?: string }) => {
      // E.g. the memory limits reached: ERR_WORKER_OUT_OF_MEMORY.
      const message = error.code === undefined ? error.message : `${error.message} [${error.code}]`
      settle(Effect.fail(new IsolatedJobError({ message, remoteStack: error.stack })))
    })
    worker.on("exit", (exitCode) => settle(exitedEarly(`the job's worker thread exited (code ${exitCode})`)))
    // Kill, timeout, cover: the signal is aborted and the thread terminated at once, even mid-computation.
    // The run ends when the thread is gone, so the job's next run never overlaps it.
    return Effect.asVoid(Effect.promise(() => {
      settled = true
      worker.postMessage("abort")
      return worker.terminate()
    }))
  })

/** After SIGTERM, how long a stopped run's process group has before SIGKILL. */
const processKillGrace = 2000

/**
 * Runs the module's function in a child Node process (its own process group); when the run ends, however
 * it ends, the group is gone: SIGTERM then SIGKILL when stopped, SIGKILL for what a finished job left.
 */
const runInProcess = (launch: Launch) =>
  Effect.async<Job.Outcome, Job.JobFailed | IsolatedJobError>((resume) => {
    const heap = launch.resourceLimits?.maxOldGenerationSizeMb
    const child = ChildProcess.spawn(
      process.execPath,
      [
        // The executor's own flags (a TypeScript loader, say), so the module loads as it would here; not a
        // debugger's, whose port the executor holds.
        ...process.execArgv.filter((flag) => !/^--(inspect|debug)/.test(flag)),
        ...(heap === undefined ? [] : [`--max-old-space-size=${heap}`]),
        "-e",
        bootstrap(processChannel)
      ],
      { stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "advanced", detached: true }
    )
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal)
      } catch {
        // Nothing left in the group.
      }
    }
    // Output that bypassed the console (process.stdout.write, native code) is copied line by line.
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = ""
      stream.setEncoding("utf8")
      stream.on("data", (chunk: string) => {
        const lines = (rest + chunk).split("\n")
        rest = lines.pop()!
        for (const line of lines) launch.context.logRaw(line)
      })
      stream.on("end", () => {
        if (rest !== "") launch.context.logRaw(rest)
      })
    }
    let outcome: Parameters<Settle>[0] | undefined
    /** The run was stopped (the canceller runs): it ends when the canceller has ended the group. */
    let stopped = false
    /** The run has been resumed: once only. */
    let resumed = false
    const finish = () => {
      if (stopped || resumed) return
      resumed = true
      resume(outcome!)
    }
    const settle: Settle = (result) => {
      outcome ??= result
    }
    child.on("message", receiver(launch.context, settle))
    // Ended (and, since the group is killed, its output all read): the run is over.
    const closed = new Promise<void>((done) => child.on("close", () => done()))
    child.on("error", (error) => {
      settle(
        Effect.fail(
          new IsolatedJobError({ message: `cannot start the process: ${error.message}`, remoteStack: undefined })
        )
      )
      // A process that never started may never report a close.
      if (child.pid === undefined) finish()
    })
    child.on("exit", (code, signal) => {
      signalGroup("SIGKILL")
      settle(exitedEarly(`the job's process exited (${signal ?? `code ${code}`})`))
    })
    child.on("disconnect", () => {
      // The job finished: it let go of its IPC. Whatever it left running goes with its process group.
      if (!stopped) signalGroup("SIGKILL")
    })
    void closed.then(() => {
      finish()
    })
    try {
      child.send(startData(launch, "process"))
    } catch (error) {
      settle(Effect.fail(new IsolatedJobError({ message: `cannot start the job: ${error}`, remoteStack: undefined })))
      signalGroup("SIGKILL")
    }
    return Effect.promise(async () => {
      stopped = true
      if (child.connected) child.send("abort")
      signalGroup("SIGTERM")
      const timer = setTimeout(() => signalGroup("SIGKILL"), processKillGrace)
      await closed
      clearTimeout(timer)
    })
  })

/**
 * Makes an isolated job. With `params`, the trigger's params are decoded (in the executor) with the Schema
 * and the decoded value is copied to the worker as `context.params`.
 *
 * @since 1.0.0
 * @category constructors
 */
export const make: {
  (options: Options): Job.Job
  <P>(options: Options & { readonly params: Schema.Schema<P, string, never> }): Job.Job
} = (options: Options & { readonly params?: Schema.Schema<any, string, never> }): Job.Job => {
  const located = locate(moduleUrl(options.module), options.name, underTsx)
  const tsx = "url" in located ? tsxFor(located.url) : undefined
  const exportName = options.export ?? "default"
  const run = options.in === "process" ? runInProcess : runInThread
  const call = (params: unknown) =>
    "problem" in located
      ? Effect.fail(new IsolatedJobError({ message: located.problem, remoteStack: undefined }))
      : Effect.flatMap(
        Job.JobContext,
        (context) =>
          run({
            module: located.url,
            tsx,
            exportName,
            context: { ...context, params, rawParams: context.params },
            resourceLimits: options.resourceLimits
          })
      )
  return options.params === undefined
    ? Job.make({
      name: options.name,
      description: options.description,
      run: Effect.flatMap(Job.JobContext, (context) => call(context.params))
    })
    : Job.make({ name: options.name, description: options.description, params: options.params, run: call })
}
