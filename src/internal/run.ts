/**
 * One run: a job's Effect in a fiber of its own, started with the trigger's `JobContext` in its context, its
 * log lines going to the run's log (plain `Effect.log*` calls included), in a span when the app traces, bound
 * by `executorTimeout`; and, however the fiber ends, its result: the code and message the admin is told and
 * the lines that end its log. The lanes (`lanes.ts`) decide when a run starts and stop it; this module knows
 * nothing of queues.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import * as Inspectable from "effect/Inspectable"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Runtime from "effect/Runtime"
import type * as Tracer from "effect/Tracer"
import { ExecutorConfig } from "../ExecutorConfig.js"
import * as Job from "../Job.js"
import { Code, type TriggerParam } from "../Wire.js"
import { formatEntry } from "./logLines.js"
import * as Messages from "./messages.js"
import * as Metrics from "./metrics.js"
import { Outbox } from "./outbox.js"
import { OutboxStore } from "./outboxStore.js"
import { capped, RunLogs } from "./runLogs.js"
import * as RunLogStdout from "./runLogStdout.js"
import { isTracing } from "./tracing.js"

/** The run went past its executorTimeout. */
class RunTimedOut extends Data.TaggedError("RunTimedOut")<{ readonly seconds: number }> {}

/** How a run ended: what the admin is told, the lines that end its log, and its label for metrics and traces. */
export interface RunResult {
  readonly code: number
  readonly msg: string | undefined
  readonly log: ReadonlyArray<string>
  readonly outcome: "success" | "failure" | "timeout" | "killed"
}

/**
 * A job's own failure, recognised by its tag (a job module may have loaded another copy of this package):
 * `Job.fail`, a `JobFailed` thrown from a Promise job, or params that did not decode.
 */
const isJobFailure = (error: unknown): error is Job.JobFailed | Job.JobParamsError =>
  Predicate.isTagged(error, "JobFailed") || Predicate.isTagged(error, "JobParamsError")

/** The result of a failed run whose failure is `error`. */
const failedWith = <E>(error: E | RunTimedOut, cause: Cause.Cause<E | RunTimedOut>): RunResult => {
  if (error instanceof RunTimedOut) {
    return {
      code: Code.timeout,
      msg: Messages.timeout,
      log: [
        Messages.logTimeout(`: the run exceeded its executorTimeout of ${error.seconds}s and was interrupted`),
        Messages.logEnd(Code.timeout, Messages.timeout)
      ],
      outcome: "timeout"
    }
  }
  if (isJobFailure(error)) {
    const code = error._tag === "JobFailed" && error.code !== undefined ? error.code : Code.fail
    // Java: a result code of 0 or less leaves the admin's log "running"; it reports 500 instead.
    const [finalCode, msg] = code > 0 ? [code, Messages.cutResult(error.message)] : [Code.fail, Messages.resultLost]
    return { code: finalCode, msg, log: [Messages.logEnd(finalCode, msg)], outcome: "failure" }
  }
  return crashed(cause)
}

/** A run that failed in a way the job did not name: the admin gets the rendered cause. */
const crashed = (cause: Cause.Cause<unknown>): RunResult => {
  const trace = Cause.pretty(cause, { renderErrorCause: true })
  return { code: Code.fail, msg: Messages.cutResult(trace), log: [Messages.logException(trace)], outcome: "failure" }
}

/** A run that was interrupted: stopped by its lane (`stopReason`), or by itself. */
const stopped = (stopReason: string | undefined): RunResult => {
  const msg = Messages.runningKilled(stopReason ?? "the job was interrupted.")
  return {
    code: Code.fail,
    msg,
    log: stopReason === undefined
      ? [Messages.logException(msg)]
      : [Messages.logStopped(stopReason), Messages.logException(msg)],
    outcome: "killed"
  }
}

/** The result of one run, from its exit. */
export const resultOf = <E>(
  exit: Exit.Exit<Job.Outcome, E | RunTimedOut>,
  stopReason: string | undefined
): RunResult => {
  if (Exit.isSuccess(exit)) {
    const msg = typeof exit.value === "string" ? Messages.cutResult(exit.value) : undefined
    return { code: Code.success, msg, log: [Messages.logEnd(Code.success, msg)], outcome: "success" }
  }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) return failedWith(failure.value, exit.cause)
  return Cause.isInterruptedOnly(exit.cause) ? stopped(stopReason) : crashed(exit.cause)
}

/**
 * A run's `JobContext`: the trigger as the job reads it, and where its lines go. The log's parts are private
 * fields, so that a job spreading its context (`{ ...context }`, as Promise and isolated jobs do) copies the
 * trigger's plain data and the two log functions, nothing more.
 */
class RunContext implements Job.JobContextShape {
  readonly jobId: number
  readonly logId: number
  readonly logDateTime: number
  readonly triggerTime: Date
  readonly handler: string
  readonly params: string
  readonly shardIndex: number
  readonly shardTotal: number
  readonly blockStrategy: string
  readonly timeoutSeconds: number
  readonly glueType: string
  readonly #append: (entry: string) => void
  readonly #source: string
  readonly #thread: string

  constructor(trigger: TriggerParam, source: string, thread: string, append: (entry: string) => void) {
    this.jobId = trigger.jobId
    this.logId = trigger.logId
    this.logDateTime = trigger.logDateTime
    this.triggerTime = new Date(trigger.logDateTime)
    this.handler = trigger.executorHandler
    this.params = trigger.executorParams
    this.shardIndex = trigger.broadcastIndex
    this.shardTotal = trigger.broadcastTotal
    this.blockStrategy = trigger.executorBlockStrategy
    this.timeoutSeconds = trigger.executorTimeout
    this.glueType = trigger.glueType ?? "BEAN"
    this.#append = append
    this.#source = source
    this.#thread = thread
  }

  readonly log = (message: string): void => this.write(new Date(), "INFO", this.#thread, message)
  readonly logRaw = (line: string): void => this.writeRaw(line)

  /** One entry in Java's shape. */
  write(date: Date, level: string, thread: string, message: string): void {
    this.#append(formatEntry({ date, source: this.#source, level, thread, message }))
  }

  /** One line as the job wrote it. */
  writeRaw(line: string): void {
    this.#append(line)
  }
}

/** A run's context whose lines also go to stdout (`runLogStdout`): a class of its own, so that one without pays nothing. */
class MirroredRunContext extends RunContext {
  readonly #mirror: RunLogStdout.Mirror

  constructor(
    trigger: TriggerParam,
    source: string,
    thread: string,
    append: (entry: string) => void,
    mirror: RunLogStdout.Mirror
  ) {
    super(trigger, source, thread, append)
    this.#mirror = mirror
  }

  override write(date: Date, level: string, thread: string, message: string): void {
    super.write(date, level, thread, message)
    this.#mirror(date, level, message)
  }

  override writeRaw(line: string): void {
    super.writeRaw(line)
    this.#mirror(new Date(), "INFO", line)
  }
}

/** The text of a log call as Effect's own loggers show it: message parts, annotations, spans, cause. */
const logText = (options: Logger.Logger.Options<unknown>): string => {
  const { annotations, cause, date, message, spans } = options
  const parts = Array.isArray(message) ? message : [message]
  let text = parts.map((part) => Inspectable.toStringUnknown(part, 0)).join(" ")
  if (HashMap.size(annotations) > 0) {
    for (const [key, value] of annotations) text += ` ${key}=${Inspectable.toStringUnknown(value, 0)}`
  }
  // Log spans (`Effect.withLogSpan`) as label=elapsed.
  const now = date.getTime()
  for (const span of spans) text += ` ${span.label}=${now - span.startTime}ms`
  if (!Cause.isEmpty(cause)) text += `\n${Cause.pretty(cause, { renderErrorCause: true })}`
  return text
}

/**
 * The runs' logger: inside a run (a fiber whose `JobContext` is a `RunContext`), plain `Effect.log*` calls
 * land in that run's log; anywhere else they go to the loggers the executor was built with, at its level.
 * One logger for all runs: a logger made per run cost an allocation and a hash each time.
 */
const runLogger = (outer: HashSet.HashSet<Logger.Logger<unknown, any>>, outerLevel: LogLevel.LogLevel) =>
  Logger.make<unknown, void>((options) => {
    const context = FiberRefs.getOrDefault(options.context, FiberRef.currentContext)
    const run = Option.getOrUndefined(Context.getOption(context, Job.JobContext))
    if (run instanceof RunContext) {
      return run.write(options.date, options.logLevel.label, FiberId.threadName(options.fiberId), logText(options))
    }
    if (LogLevel.greaterThanEqual(options.logLevel, outerLevel)) { for (const logger of outer) logger.log(options) }
  })

/** The lane a run works for (one object per lane, not per run: a run allocates as little as it can). */
export interface RunOwner {
  /** The thread name its runs' log lines carry, as Java's JobThread names them. */
  readonly thread: string
  /** Why the lane stopped its run, if it did: read when the run ends. */
  readonly stopReason: string | undefined
  /** Called once per run, when it has ended however it ended, its log's end markers written. */
  readonly runEnded: (trigger: TriggerParam, result: RunResult) => void
}

/** @internal */
export interface Runs<R> {
  /** Starts a run now, on this turn of the event loop (a job that ends at once ends inside this call). */
  readonly start: <E>(
    job: Job.Job<E, R>,
    trigger: TriggerParam,
    owner: RunOwner
  ) => Fiber.RuntimeFiber<unknown, unknown>
  /** Notes when a trigger was admitted and the span of its request, for its run's span (when tracing). */
  readonly admitted: (trigger: TriggerParam) => Effect.Effect<void>
}

/**
 * Makes the runs of an executor. The jobs' requirements `R` are taken from the context of the layer that makes
 * them, once, so a run never sees the HTTP request that triggered it.
 */
export const makeRuns = <R>() =>
  Effect.gen(function*() {
    const settings = yield* ExecutorConfig
    const runLogs = yield* RunLogs
    // Runs are forked from this runtime: the layer's context (the jobs' requirements `R`), the runs' logger,
    // and a log level of Info or lower whatever the executor's own output is set to, since a run's log is for
    // the admin's users (Java's XxlJobHelper.log has no level at all).
    const outerLoggers = yield* FiberRef.get(FiberRef.currentLoggers)
    const outerLevel = yield* FiberRef.get(FiberRef.currentMinimumLogLevel)
    const base = yield* Effect.runtime<R>().pipe(
      Effect.map(withoutEngine),
      // Runs can be interrupted (kill, timeout, cover) whatever the region the layer is built in.
      Effect.interruptible,
      Effect.locally(FiberRef.currentLoggers, HashSet.make(runLogger(outerLoggers, outerLevel))),
      Effect.locally(
        FiberRef.currentMinimumLogLevel,
        LogLevel.lessThan(outerLevel, LogLevel.Info) ? outerLevel : LogLevel.Info
      )
    )
    // Runs get spans only when the app provides a tracer (OpenTelemetry, say): with Effect's own, which exports
    // nowhere, a span per run cost ~35 µs and 7 KiB per running job for nothing (measured).
    const tracing = yield* isTracing
    const admissions = new WeakMap<TriggerParam, Admission>()
    const stdout = settings.runLogStdout ? yield* RunLogStdout.make(settings.logFormat) : undefined

    const start = <E>(job: Job.Job<E, R>, trigger: TriggerParam, owner: RunOwner) => {
      const { thread } = owner
      const source = job.name
      const append = runLogs.appender({ logId: trigger.logId, logDateTime: trigger.logDateTime })
      const mirror = stdout?.forRun(trigger.jobId, trigger.logId, source)
      const marker = (level: string, message: string) => {
        const date = new Date()
        append(formatEntry({ date, source, level, thread, message }))
        mirror?.(date, level, message)
      }
      // The job's own lines are capped (head and tail kept); the executor's markers always get through. The
      // mirror gets every line as it comes: the cap keeps the run log's size, stdout's is the platform's.
      const jobLines = capped(append, settings.maxRunLogBytes, Metrics.unsafeRecordLogBytes)
      const context = mirror === undefined
        ? new RunContext(trigger, source, thread, jobLines.append)
        : new MirroredRunContext(trigger, source, thread, jobLines.append, mirror)
      marker("INFO", Messages.logStart(trigger.executorParams))
      const seconds = trigger.executorTimeout
      const timed: Effect.Effect<Job.Outcome, E | RunTimedOut, R | Job.JobContext> = seconds > 0
        ? Effect.timeoutFail(job.run, {
          duration: Duration.seconds(seconds),
          onTimeout: () => new RunTimedOut({ seconds })
        })
        : job.run
      const run = tracing ? traced(timed, trigger, admissions.get(trigger), () => owner.stopReason) : timed
      const runtime = Runtime.make({
        context: Context.add(base.context, Job.JobContext, context),
        fiberRefs: base.fiberRefs,
        runtimeFlags: base.runtimeFlags
      })
      const startedAt = performance.now()
      const fiber = Runtime.runFork(runtime, run, { immediate: true })
      fiber.addObserver((exit) => {
        // The log's kept tail (when it was too long for the cap) goes before the end markers.
        const result = endOf(exit, owner.stopReason, jobLines)
        const level = result.code === Code.success ? "INFO" : "ERROR"
        for (const line of result.log) marker(level, line)
        Metrics.unsafeRecordRun(source, result.outcome, (performance.now() - startedAt) / 1000)
        owner.runEnded(trigger, result)
      })
      return fiber
    }

    const admitted = (trigger: TriggerParam) =>
      tracing
        ? Effect.map(Effect.option(Effect.currentSpan), (span) => {
          admissions.set(trigger, { at: Date.now(), span: Option.getOrUndefined(span) })
        })
        : Effect.void

    return { start, admitted } satisfies Runs<R>
  })

/** The result of a run that has ended; a failure to work it out is a failed run, never a lost result. */
const endOf = <E>(
  exit: Exit.Exit<Job.Outcome, E>,
  stopReason: string | undefined,
  jobLines: { readonly close: () => void }
): RunResult => {
  try {
    jobLines.close()
    return resultOf(exit, stopReason)
  } catch (error) {
    return { code: Code.fail, msg: Messages.cutResult(String(error)), log: [], outcome: "failure" }
  }
}

/**
 * The runtime runs start from: the layer's, without the engine's own services (no job can name them). Each
 * run copies its runtime's context once to add its `JobContext`, so the fewer entries the cheaper (measured:
 * that copy was most of what a run allocated beyond the executor before it).
 */
const withoutEngine = <R>(runtime: Runtime.Runtime<R>): Runtime.Runtime<R> =>
  Runtime.make({
    context: Context.omit(RunLogs, Outbox, OutboxStore)(runtime.context) as Context.Context<R>,
    fiberRefs: runtime.fiberRefs,
    runtimeFlags: runtime.runtimeFlags
  })

/** When a trigger was admitted, and the span of the request that brought it. */
interface Admission {
  readonly at: number
  readonly span: Tracer.AnySpan | undefined
}

/** The run in a span of its own, with the trigger's attributes, how it started and how it ended. */
const traced = <E, R>(
  run: Effect.Effect<Job.Outcome, E | RunTimedOut, R>,
  trigger: TriggerParam,
  admission: Admission | undefined,
  stopReason: () => string | undefined
) => {
  const event = (name: string, attributes: Record<string, unknown>) =>
    Effect.flatMap(
      Effect.currentSpan,
      (span) => Effect.sync(() => span.event(name, BigInt(Date.now()) * 1_000_000n, attributes))
    ).pipe(Effect.ignore)
  return Effect.zipRight(
    event("xxl-job.started", { "xxl.queued.ms": admission === undefined ? 0 : Date.now() - admission.at }),
    run
  ).pipe(
    Effect.onExit((exit) => {
      const reason = stopReason()
      const { code, outcome } = resultOf(exit, reason)
      return Effect.zipRight(
        // How it ended, as an event: timed out, or stopped and why (killed, covered, handler changed, shutdown).
        outcome === "timeout"
          ? event("xxl-job.timed-out", {})
          : outcome === "killed"
          ? event("xxl-job.stopped", reason === undefined ? {} : { "xxl.stop.reason": reason })
          : Effect.void,
        Effect.annotateCurrentSpan({ "xxl.result.code": code, "xxl.result": outcome })
      )
    }),
    Effect.withSpan("xxl-job.run", {
      root: true,
      kind: "internal",
      // A link, not a parent: a queued run may start long after its request ended.
      links: admission?.span === undefined ? [] : [{ _tag: "SpanLink", span: admission.span, attributes: {} }],
      attributes: {
        // Since the admin's trigger time: queueing behind earlier runs of the job included.
        "xxl.trigger.delay.ms": Math.max(0, Date.now() - trigger.logDateTime),
        "xxl.job.id": trigger.jobId,
        "xxl.log.id": trigger.logId,
        "xxl.job.handler": trigger.executorHandler,
        "xxl.block.strategy": trigger.executorBlockStrategy,
        "xxl.shard.index": trigger.broadcastIndex,
        "xxl.shard.total": trigger.broadcastTotal,
        "xxl.glue.type": trigger.glueType ?? "BEAN"
      }
    })
  )
}
