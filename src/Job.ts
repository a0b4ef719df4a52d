/**
 * Jobs: `Job.make({ name, run })` turns an Effect into a job the admin can trigger by its handler name;
 * `Job.registry(...)` gathers them, and the registry's type carries every job's requirements so the
 * executor's layer asks for them. A running job reads its trigger from `JobContext`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Job } from "effect-xxl-job"
 *
 * // An Effect registered under the handler name typed in the admin ("JobHandler").
 * const Hello = Job.make({
 *   name: "hello",
 *   run: Effect.gen(function*() {
 *     const job = yield* Job.JobContext // jobId, logId, params, shardIndex/shardTotal, triggerTime…
 *     yield* Effect.log(`hello ${job.params}`) // lands in this run's log, shown by the admin
 *     return "done" // the result message the admin shows
 *   })
 * })
 *
 * // Params decoded with a Schema: a bad value is the run's result (500 "job params invalid: …").
 * const Resize = Job.make({
 *   name: "resize",
 *   params: Schema.parseJson(Schema.Struct({ width: Schema.Int, height: Schema.Int })),
 *   run: ({ height, width }) => width > 4096 ? Job.fail("too wide") : Effect.succeed(`${width}x${height}`)
 * })
 *
 * // An async function: the signal is aborted when the run is stopped (kill, timeout, cover, shutdown).
 * const Ping = Job.fromPromise({
 *   name: "ping",
 *   run: async (context, signal) => `${(await fetch(context.params, { signal })).status}`
 * })
 *
 * export const jobs = Job.registry(Hello, Resize, Ping)
 * ```
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { describeParseError } from "./internal/wireCodecs.js"

/**
 * What a running job knows about its trigger.
 *
 * @since 1.0.0
 * @category models
 */
export interface JobContextShape {
  readonly jobId: number
  /** The admin's log row for this run: it identifies the run. */
  readonly logId: number
  /** The trigger time, epoch milliseconds, as the admin sent it (`logDateTime`). */
  readonly logDateTime: number
  readonly triggerTime: Date
  /** The handler name the admin asked for. */
  readonly handler: string
  /** The raw `executorParams` ("" when the admin sent none). */
  readonly params: string
  /** The shard of a SHARDING_BROADCAST trigger: index 0 of total 1 otherwise. */
  readonly shardIndex: number
  readonly shardTotal: number
  readonly blockStrategy: string
  /** `executorTimeout` in seconds; 0 for none. */
  readonly timeoutSeconds: number
  readonly glueType: string
  /**
   * Writes a line to this run's log (at INFO) from code that is not an Effect: a callback, a library's
   * progress hook. Java's `XxlJobHelper.log`. In Effect code, `Effect.log*` does the same with levels.
   */
  readonly log: (message: string) => void
  /**
   * Writes a line to this run's log as it is, with no date or level: how a script's or a worker's own output
   * is copied (Java copies a script's output raw).
   */
  readonly logRaw: (line: string) => void
}

/**
 * @since 1.0.0
 * @category tags
 */
export class JobContext extends Context.Tag("effect-xxl-job/JobContext")<JobContext, JobContextShape>() {}

/**
 * A job's own failure with the message the admin shows. `code` defaults to 500; 502 marks a timeout.
 *
 * @since 1.0.0
 * @category errors
 */
export class JobFailed extends Data.TaggedError("JobFailed")<{
  readonly message: string
  readonly code?: number | undefined
}> {}

/**
 * Fails the running job with a message for the admin (Java's `XxlJobHelper.handleFail(msg)`).
 *
 * @since 1.0.0
 * @category constructors
 */
export const fail = (message: string): Effect.Effect<never, JobFailed> => Effect.fail(new JobFailed({ message }))

/**
 * The trigger's params did not decode with the job's Schema.
 *
 * @since 1.0.0
 * @category errors
 */
export class JobParamsError extends Data.TaggedError("JobParamsError")<{
  readonly handler: string
  readonly detail: string
}> {
  override get message(): string {
    return `job params invalid: ${this.detail}`
  }
}

/**
 * What a job's Effect may return: a message for the admin, or nothing.
 *
 * @since 1.0.0
 * @category models
 */
export type Outcome = string | void | undefined

/**
 * A job: a handler name and what to run. `E` is how it can fail, `R` what it needs from the application.
 *
 * @since 1.0.0
 * @category models
 */
export interface Job<out E = unknown, out R = never> {
  readonly name: string
  readonly description: string | undefined
  /** The run, params already decoded; reads the trigger from `JobContext`. */
  readonly run: Effect.Effect<Outcome, E, R | JobContext>
}

/**
 * Makes a job. With `params`, the trigger's `executorParams` is decoded with that Schema first (e.g.
 * `Schema.parseJson(Schema.Struct({...}))`) and the decoded value is handed to `run`; a decode failure is the
 * run's result (500 `job params invalid: ...`), never a defect.
 *
 * @since 1.0.0
 * @category constructors
 */
export const make: {
  <E, R>(options: {
    readonly name: string
    readonly description?: string | undefined
    readonly run: Effect.Effect<Outcome, E, R>
  }): Job<E, Exclude<R, JobContext>>
  <P, E, R>(options: {
    readonly name: string
    readonly description?: string | undefined
    readonly params: Schema.Schema<P, string, never>
    readonly run: (params: P) => Effect.Effect<Outcome, E, R>
  }): Job<E | JobParamsError, Exclude<R, JobContext>>
} = (options: {
  readonly name: string
  readonly description?: string | undefined
  readonly params?: Schema.Schema<any, string, never>
  readonly run: Effect.Effect<Outcome, unknown, any> | ((params: any) => Effect.Effect<Outcome, unknown, any>)
}): Job<unknown, any> => {
  const name = options.name.trim()
  if (name === "") throw new Error("Job.make: a job needs a non-empty name")
  const schema = options.params
  const run = options.run
  return {
    name,
    description: options.description,
    run: schema === undefined
      ? run as Effect.Effect<Outcome, unknown, any>
      : Effect.flatMap(JobContext, (context) =>
        Schema.decode(schema)(context.params).pipe(
          Effect.mapError((error) => new JobParamsError({ handler: name, detail: describeParseError(error) })),
          Effect.flatMap(run as (params: unknown) => Effect.Effect<Outcome, unknown, any>)
        ))
  }
}

/**
 * What a Promise job's function gets: the trigger, with `params` decoded when the job has a params Schema.
 *
 * @since 1.0.0
 * @category models
 */
export interface PromiseContext<P = string> extends Omit<JobContextShape, "params"> {
  /** The params, decoded with the job's Schema; without one, the raw text ("" when the admin sent none). */
  readonly params: P
  /** `executorParams` as the admin sent it. */
  readonly rawParams: string
}

/**
 * How long a stopped Promise job's function is waited for before its run ends anyway.
 *
 * @since 1.0.0
 * @category constants
 */
export const promiseStopGrace = Duration.seconds(5)

/**
 * Runs an async function as an Effect: its value, or what it threw as it is (a JobFailed keeps its message,
 * an Error its stack). Interrupted, it aborts the signal and waits for the function to settle, within
 * `promiseStopGrace`.
 */
const settledOrStopped = (name: string, run: (signal: AbortSignal) => PromiseLike<Outcome>) =>
  Effect.async<Outcome, unknown>((resume) => {
    const controller = new AbortController()
    let settled: Promise<unknown>
    try {
      const promise = Promise.resolve(run(controller.signal))
      settled = promise.then(() => undefined, () => undefined)
      promise.then((value) => resume(Effect.succeed(value)), (error) => resume(Effect.fail(error)))
    } catch (error) {
      resume(Effect.fail(error))
      return
    }
    return Effect.suspend(() => {
      controller.abort()
      // A canceller runs uninterruptibly: the wait must be interruptible for the grace to cut it short.
      return Effect.interruptible(Effect.promise(() => settled)).pipe(
        Effect.timeout(promiseStopGrace),
        Effect.catchTag("TimeoutException", () =>
          Effect.logWarning(
            `job ${name}: its function did not settle within ${
              Duration.format(promiseStopGrace)
            } of being stopped (it ignores its AbortSignal); the job's next run may overlap it`
          ))
      )
    })
  })

/**
 * A job written as an async function, for code that does not use Effect: `run(context, signal)`. The
 * `signal` is aborted when the run is stopped (kill, timeout, cover, shutdown): pass it on to `fetch`,
 * timers and streams, or check it between steps. The run ends when the function settles, so the job's next
 * run never overlaps it; a function that ignores the signal is waited for `promiseStopGrace` (5 s) at most,
 * then the run ends with a warning naming the job, and what the function still does goes on beside the next
 * run.
 *
 * The resolved value is the message the admin shows (a string, or nothing); a rejection fails the run with
 * the error's stack, and `throw new Job.JobFailed({ message })` fails it with just that message.
 *
 * @since 1.0.0
 * @category constructors
 */
export const fromPromise: {
  // With params first: an overload tried earlier would fix the function's context type before P is known.
  <P>(options: {
    readonly name: string
    readonly description?: string | undefined
    readonly params: Schema.Schema<P, string, never>
    readonly run: (context: PromiseContext<P>, signal: AbortSignal) => PromiseLike<Outcome>
  }): Job
  (options: {
    readonly name: string
    readonly description?: string | undefined
    readonly run: (context: PromiseContext<string>, signal: AbortSignal) => PromiseLike<Outcome>
  }): Job
} = (options: {
  readonly name: string
  readonly description?: string | undefined
  readonly params?: Schema.Schema<any, string, never>
  readonly run: (context: PromiseContext<any>, signal: AbortSignal) => PromiseLike<Outcome>
}): Job => {
  const call = (params: unknown) =>
    Effect.flatMap(
      JobContext,
      (context) =>
        settledOrStopped(
          options.name,
          (signal) => options.run({ ...context, params, rawParams: context.params }, signal)
        )
    )
  return options.params === undefined
    ? make({
      name: options.name,
      description: options.description,
      run: Effect.flatMap(JobContext, (c) => call(c.params))
    })
    : make({ name: options.name, description: options.description, params: options.params, run: call })
}

/**
 * The jobs an executor offers, by handler name.
 *
 * @since 1.0.0
 * @category models
 */
export interface Registry<out E = unknown, out R = never> {
  readonly jobs: ReadonlyMap<string, Job<E, R>>
}

type ErrorsOf<Jobs extends ReadonlyArray<Job<any, any>>> = Jobs[number] extends Job<infer E, any> ? E : never
type RequirementsOf<Jobs extends ReadonlyArray<Job<any, any>>> = Jobs[number] extends Job<any, infer R> ? R : never

const isJob = (value: unknown): value is Job<any, any> =>
  typeof value === "object" && value !== null && typeof (value as Job).name === "string" &&
  Effect.isEffect((value as Job).run)

/**
 * Gathers jobs into a registry. Two jobs with one name are a programming error and throw here, at startup.
 *
 * @since 1.0.0
 * @category constructors
 */
export const registry = <const Jobs extends ReadonlyArray<Job<any, any>>>(
  ...jobs: Jobs
): Registry<ErrorsOf<Jobs>, RequirementsOf<Jobs>> => {
  const map = new Map<string, Job<any, any>>()
  for (const job of jobs as ReadonlyArray<unknown>) {
    if (Array.isArray(job)) throw new Error("Job.registry: pass the jobs themselves, Job.registry(A, B), not an array")
    if (!isJob(job)) throw new Error(`Job.registry: ${String(job)} is not a job (make one with Job.make)`)
    if (map.has(job.name)) throw new Error(`Job.registry: two jobs are named "${job.name}"`)
    map.set(job.name, job)
  }
  return { jobs: map }
}
