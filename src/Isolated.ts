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
 * @since 1.0.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import * as Url from "node:url"
import * as WorkerThreads from "node:worker_threads"
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
  /** The module, as a file URL or an absolute path: `new URL("./jobs/report.js", import.meta.url)`. */
  readonly module: URL | string
  /** The exported function to call (default: `default`). */
  readonly export?: string | undefined
  /** The worker's memory limits: a run past them fails alone, the executor is untouched. */
  readonly resourceLimits?: WorkerThreads.ResourceLimits | undefined
}

/**
 * The worker's bootstrap. Everything the job says (its `context.log`, its console, its result) goes over the
 * message port, in order, so the result never overtakes a line of its log.
 */
const bootstrap = `
const { parentPort, workerData } = require("node:worker_threads")
const { format } = require("node:util")
const send = (message) => parentPort.postMessage(message)
const controller = new AbortController()
parentPort.on("message", (message) => { if (message === "abort") controller.abort() })
for (const method of ["log", "info", "warn", "error", "debug", "trace"]) {
  console[method] = (...args) => send({ kind: "raw", line: format(...args) })
}
const context = {
  ...workerData.context,
  log: (message) => send({ kind: "log", message: String(message) }),
  logRaw: (line) => send({ kind: "raw", line: String(line) })
}
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
import(workerData.module).then((module) => {
  const run = module[workerData.exportName]
  if (typeof run !== "function") {
    throw new Error(workerData.module + " exports no function named " + JSON.stringify(workerData.exportName))
  }
  return run(context, controller.signal)
}).then(
  (value) => send({ kind: "done", value: value === undefined || value === null ? undefined : typeof value === "string" ? value : JSON.stringify(value) }),
  (error) => send({ kind: "failed", error: describe(error) })
)
`

type FromWorker =
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

/** Runs the module's function in a new worker thread; the thread is terminated however the run ends. */
const runInWorker = (
  module: string,
  exportName: string,
  context: Job.PromiseContext<unknown>,
  resourceLimits: WorkerThreads.ResourceLimits | undefined
) =>
  Effect.async<Job.Outcome, Job.JobFailed | IsolatedJobError>((resume) => {
    const { log, logRaw, ...data } = context
    let worker: WorkerThreads.Worker
    try {
      worker = new WorkerThreads.Worker(bootstrap, {
        eval: true,
        workerData: { module, exportName, context: data },
        ...(resourceLimits === undefined ? {} : { resourceLimits })
      })
    } catch (error) {
      // E.g. params that cannot be copied to another thread.
      resume(
        Effect.fail(new IsolatedJobError({ message: `cannot start the worker: ${error}`, remoteStack: undefined }))
      )
      return
    }
    let settled = false
    const settle = (outcome: Effect.Effect<Job.Outcome, Job.JobFailed | IsolatedJobError>) => {
      if (settled) return
      settled = true
      // The job is over: whatever it left running in its thread (timers, sockets) ends with the thread.
      void worker.terminate()
      resume(outcome)
    }
    worker.on("message", (message: FromWorker) => {
      switch (message.kind) {
        case "log":
          return log(message.message)
        case "raw":
          return logRaw(message.line)
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
    })
    worker.on("error", (error: Error & { readonly code?: string }) => {
      // E.g. the memory limits reached: ERR_WORKER_OUT_OF_MEMORY.
      const message = error.code === undefined ? error.message : `${error.message} [${error.code}]`
      settle(Effect.fail(new IsolatedJobError({ message, remoteStack: error.stack })))
    })
    worker.on("exit", (exitCode) =>
      settle(Effect.fail(
        new IsolatedJobError({
          message: `the job's worker thread exited (code ${exitCode}) before the job finished`,
          remoteStack: undefined
        })
      )))
    // Kill, timeout, cover: the signal is aborted and the thread terminated at once, even mid-computation.
    // The run ends when the thread is gone, so the job's next run never overlaps it.
    return Effect.asVoid(Effect.promise(() => {
      settled = true
      worker.postMessage("abort")
      return worker.terminate()
    }))
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
  const module = moduleUrl(options.module)
  const exportName = options.export ?? "default"
  const call = (params: unknown) =>
    Effect.flatMap(
      Job.JobContext,
      (context) =>
        runInWorker(module, exportName, { ...context, params, rawParams: context.params }, options.resourceLimits)
    )
  return options.params === undefined
    ? Job.make({
      name: options.name,
      description: options.description,
      run: Effect.flatMap(Job.JobContext, (context) => call(context.params))
    })
    : Job.make({ name: options.name, description: options.description, params: options.params, run: call })
}
