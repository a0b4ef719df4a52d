/**
 * Dispatch: one lane per jobId, the fiber version of Java's `JobThread`. A lane runs its triggers one at a
 * time in arrival order (SERIAL_EXECUTION); DISCARD_LATER refuses while it is busy; COVER_EARLY stops it and
 * starts a new one. `executorTimeout` interrupts a run (502), `/kill` interrupts it and reports what was
 * queued, and every accepted trigger gets exactly one result, handed to the `Outbox`.
 *
 * Each run is a fiber of its own, forked with the run's `JobContext` and log in its context; the lane itself
 * is plain mutable data changed only in synchronous steps (a trigger's admission, a run's end seen by the
 * fiber's observer, a stop), so nothing ever sees it half changed. A run's result is reported by that
 * observer, which is called however the fiber ends: no result can be skipped.
 *
 * @since 1.0.0
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
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import type * as Tracer from "effect/Tracer"
import { ExecutorConfig } from "../ExecutorConfig.js"
import * as Job from "../Job.js"
import { capped, formatEntry, JobLog, type Writer } from "../JobLog.js"
import { CallbackItem, Code, type TriggerParam, unsafeInstance } from "../Wire.js"
import { whileClosing } from "./closing.js"
import * as GlueScript from "./glueScript.js"
import * as Messages from "./messages.js"
import * as Metrics from "./metrics.js"
import { Outbox } from "./outbox.js"
import { isTracing } from "./tracing.js"

/**
 * What a trigger gets: accepted (its result comes later, through the outbox) or refused with the message
 * `/run` answers (no result follows).
 *
 * @since 1.0.0
 * @category models
 */
export type Admission = { readonly _tag: "Accepted" } | { readonly _tag: "Refused"; readonly reason: string }

/**
 * @since 1.0.0
 * @category models
 */
export interface Service {
  /** Takes a trigger: queue it, run it, or refuse it, by the lane's state and the block strategy. */
  readonly trigger: (param: TriggerParam) => Effect.Effect<Admission>
  /** `trigger` as a plain call (it is one synchronous step); it does not see the caller's span. */
  readonly unsafeTrigger: (param: TriggerParam) => Admission
  /** Stops the job's lane (`/kill`): false when there was none. */
  readonly kill: (jobId: number) => Effect.Effect<boolean>
  /** True when nothing runs or waits for the job, and no stopped run of it is still finishing. */
  readonly isIdle: (jobId: number) => Effect.Effect<boolean>
  /** Runs now, triggers waiting, and lanes. */
  readonly stats: Effect.Effect<{ readonly running: number; readonly queued: number; readonly lanes: number }>
  /** Refuses every trigger from now on (the executor is shutting down). */
  readonly refuseNew: Effect.Effect<void>
  /**
   * Shuts the lanes down: refuses new triggers, lets runs and queued triggers go on for `grace`, then stops
   * every lane with "web container destroy and kill the job." and waits (bounded) for the runs to report.
   */
  readonly drain: (grace: Duration.Duration) => Effect.Effect<void>
}

/**
 * @since 1.0.0
 * @category tags
 */
export class Lanes extends Context.Tag("effect-xxl-job/Lanes")<Lanes, Service>() {}

/** How long stopped runs get to end (their finalizers) at shutdown before we answer for them. */
const stopGrace = Duration.seconds(5)

const accepted: Admission = { _tag: "Accepted" }
const refused = (reason: string): Admission => ({ _tag: "Refused", reason })

/** The run went past its executorTimeout. */
class RunTimedOut extends Data.TaggedError("RunTimedOut")<{ readonly seconds: number }> {}

interface Lane {
  readonly jobId: number
  /** Which handler the lane runs: a trigger for another one replaces the lane. */
  readonly handlerKey: string
  readonly job: Job.Job<any>
  /** The thread name its runs' log lines carry, as Java's JobThread names them. */
  readonly thread: string
  readonly queue: Array<TriggerParam>
  /** The logIds in `queue` (for Java's repeat check), made when something is queued. */
  queuedLogIds: Set<number> | undefined
  /** The trigger being run; cleared once its result is reported. */
  running: TriggerParam | undefined
  fiber: Fiber.RuntimeFiber<Job.Outcome, unknown> | undefined
  /** True from the moment the lane has work until it has none (its start may still be pending). */
  active: boolean
  /** True while `runNext` is taking triggers (a run that ends at once then leaves the next to it). */
  starting: boolean
  stopReason: string | undefined
  idleSince: number
  /** The lane this one replaced: its last run must end before this one starts (no overlap). Let go then. */
  previous: Lane | undefined
  /** Set once the lane is stopped and its run has ended; `onEnded` is called then. */
  ended: boolean
  onEnded: Array<() => void> | undefined
}

const blockStrategies = new Set(["SERIAL_EXECUTION", "DISCARD_LATER", "COVER_EARLY"])

/** How a run ended: what the admin is told, the lines that end its log, and its label for metrics and traces. */
interface RunResult {
  readonly code: number
  readonly msg: string | undefined
  readonly log: ReadonlyArray<string>
  readonly outcome: "success" | "failure" | "timeout" | "killed"
}

/** The result of one run, from its exit. */
const resultOf = (
  exit: Exit.Exit<Job.Outcome, unknown>,
  stopReason: string | undefined
): RunResult => {
  if (Exit.isSuccess(exit)) {
    const msg = typeof exit.value === "string" ? Messages.cutResult(exit.value) : undefined
    return { code: Code.success, msg, log: [Messages.logEnd(Code.success, msg)], outcome: "success" }
  }
  const cause = exit.cause
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
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
    if (error instanceof Job.JobFailed || error instanceof Job.JobParamsError) {
      const code = error instanceof Job.JobFailed && error.code !== undefined ? error.code : Code.fail
      // Java: a result code of 0 or less leaves the admin's log "running"; it reports 500 instead.
      const [finalCode, msg] = code > 0
        ? [code, Messages.cutResult(error.message)]
        : [Code.fail, Messages.resultLost]
      return { code: finalCode, msg, log: [Messages.logEnd(finalCode, msg)], outcome: "failure" }
    }
  }
  if (Cause.isInterruptedOnly(cause)) {
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
  const trace = Cause.pretty(cause, { renderErrorCause: true })
  return { code: Code.fail, msg: Messages.cutResult(trace), log: [Messages.logException(trace)], outcome: "failure" }
}

/** The log of the run a fiber works for, in the run's context; read by `laneLogger`. */
class RunLog extends Context.Tag("effect-xxl-job/Lanes/RunLog")<RunLog, {
  readonly writer: Writer
  readonly source: string
}>() {}

/**
 * A run's services: the layer's, with the run's `JobContext` and `RunLog` over them. A copy of the layer's
 * map per run, with the two set, was about 8% of all the memory a trigger allocated (measured); this
 * reads through to the layer's map instead. It is a whole `Map` (size, iteration, copies) since Effect may do
 * any of that with a context, and read-only as Effect treats a context's map (it copies before it changes).
 */
class RunServices extends Map<string, unknown> {
  constructor(
    private readonly layer: ReadonlyMap<string, unknown>,
    private readonly jobContext: unknown,
    private readonly runLog: unknown
  ) {
    super()
  }
  override get(key: string): unknown {
    return key === Job.JobContext.key ? this.jobContext : key === RunLog.key ? this.runLog : this.layer.get(key)
  }
  override has(key: string): boolean {
    return key === Job.JobContext.key || key === RunLog.key || this.layer.has(key)
  }
  override get size(): number {
    return this.layer.size + (this.layer.has(Job.JobContext.key) ? 0 : 1) + (this.layer.has(RunLog.key) ? 0 : 1)
  }
  override *entries(): MapIterator<[string, unknown]> {
    for (const entry of this.layer) if (entry[0] !== Job.JobContext.key && entry[0] !== RunLog.key) yield entry
    yield [Job.JobContext.key, this.jobContext]
    yield [RunLog.key, this.runLog]
  }
  override [Symbol.iterator](): MapIterator<[string, unknown]> {
    return this.entries()
  }
  override *keys(): MapIterator<string> {
    for (const [key] of this.entries()) yield key
  }
  override *values(): MapIterator<unknown> {
    for (const [, value] of this.entries()) yield value
  }
  override forEach(f: (value: unknown, key: string, map: Map<string, unknown>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) f.call(thisArg, value, key, this)
  }
  override set(): this {
    throw new TypeError("a run's services are read-only")
  }
  override delete(): boolean {
    throw new TypeError("a run's services are read-only")
  }
  override clear(): void {
    throw new TypeError("a run's services are read-only")
  }
}

/**
 * The runs' logger: inside a run, plain `Effect.log*` calls land in that run's log; anywhere else they go to
 * the loggers the executor was built with, at its level. One logger for all runs: a logger made per run cost
 * an allocation and a hash each time.
 */
const laneLogger = (outer: HashSet.HashSet<Logger.Logger<unknown, any>>, outerLevel: LogLevel.LogLevel) =>
  Logger.make<unknown, void>((options) => {
    const run = Context.getOption(FiberRefs.getOrDefault(options.context, FiberRef.currentContext), RunLog)
    if (Option.isNone(run)) {
      if (LogLevel.greaterThanEqual(options.logLevel, outerLevel)) { for (const logger of outer) logger.log(options) }
      return
    }
    const { annotations, cause, date, fiberId, logLevel, message, spans } = options
    const parts = Array.isArray(message) ? message : [message]
    let text = parts.map((part) => Inspectable.toStringUnknown(part, 0)).join(" ")
    if (HashMap.size(annotations) > 0) {
      for (const [key, value] of annotations) text += ` ${key}=${Inspectable.toStringUnknown(value, 0)}`
    }
    // Log spans (`Effect.withLogSpan`) as Effect's own loggers show them: label=elapsed.
    const now = date.getTime()
    for (const span of spans) text += ` ${span.label}=${now - span.startTime}ms`
    if (!Cause.isEmpty(cause)) text += `\n${Cause.pretty(cause, { renderErrorCause: true })}`
    run.value.writer.append(formatEntry({
      date,
      source: run.value.source,
      level: logLevel.label,
      thread: FiberId.threadName(fiberId),
      message: text
    }))
  })

/**
 * Builds the lanes for a registry of jobs. The jobs' requirements `R` are taken from the layer's context
 * once, here, so a run never sees the HTTP request that triggered it.
 *
 * @since 1.0.0
 * @category constructors
 */
export const make = <R>(registry: Job.Registry<R>) =>
  Effect.gen(function*() {
    const settings = yield* ExecutorConfig
    const jobLog = yield* JobLog
    const outbox = yield* Outbox
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()

    // Runs are forked from this runtime: the layer's context (the jobs' requirements `R`), the runs' logger,
    // and a log level of Info or lower whatever the executor's own output is set to, since a run's log is
    // for the admin's users (Java's XxlJobHelper.log has no level at all).
    const outerLoggers = yield* FiberRef.get(FiberRef.currentLoggers)
    const outerLevel = yield* FiberRef.get(FiberRef.currentMinimumLogLevel)
    const base = yield* Effect.runtime<R>().pipe(
      // Runs can be interrupted (kill, timeout, cover) whatever the region the layer is built in.
      Effect.interruptible,
      Effect.locally(FiberRef.currentLoggers, HashSet.make(laneLogger(outerLoggers, outerLevel))),
      Effect.locally(
        FiberRef.currentMinimumLogLevel,
        LogLevel.lessThan(outerLevel, LogLevel.Info) ? outerLevel : LogLevel.Info
      )
    )

    // Runs get spans only when the app provides a tracer (OpenTelemetry, say): with Effect's own, which
    // exports nowhere, a span per run cost ~35 µs and 7 KiB per running job for nothing (measured).
    const tracing = yield* isTracing
    /**
     * When tracing, each trigger's admission: when it was (the run's `xxl-job.started` event says how long it
     * waited) and the span of the request that brought it (the run's span links to it).
     */
    const admissions = new WeakMap<TriggerParam, { readonly at: number; readonly span: Tracer.AnySpan | undefined }>()

    /** The run in a span of its own, with the trigger's attributes, how it started and how it ended. */
    const traced = (lane: Lane, trigger: TriggerParam, run: Effect.Effect<Job.Outcome, unknown, R>) => {
      const admission = admissions.get(trigger)
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
          const { code, outcome } = resultOf(exit, lane.stopReason)
          const reason = lane.stopReason === undefined ? {} : { "xxl.stop.reason": lane.stopReason }
          return Effect.zipRight(
            // How it ended, as an event: timed out, or stopped and why (killed, covered, handler changed,
            // shutdown).
            outcome === "timeout"
              ? event("xxl-job.timed-out", {})
              : outcome === "killed"
              ? event("xxl-job.stopped", reason)
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

    const lanes = new Map<number, Lane>()
    /** Stopped lanes whose run has not ended yet. */
    const stopping = new Set<Lane>()
    let closed = false

    /** Free run permits when the runs at once are limited (`maxConcurrentRuns`), and the lanes waiting. */
    const limited = settings.maxConcurrentRuns > 0
    let freePermits = settings.maxConcurrentRuns
    const waitingForPermit: Array<Lane> = []

    const report = (trigger: TriggerParam, code: number, msg: string | undefined) =>
      outbox.unsafeOffer(
        // Built from a decoded trigger and our own result: no need to validate again.
        unsafeInstance(CallbackItem, {
          logId: trigger.logId,
          logDateTim: trigger.logDateTime,
          handleCode: code,
          handleMsg: msg
        })
      )

    const isBusy = (lane: Lane) => lane.running !== undefined || lane.queue.length > 0

    /** Calls `k` once the stopped lane's run has ended (at once when it has). */
    const whenEnded = (lane: Lane, k: () => void) => {
      if (lane.ended) k()
      else (lane.onEnded ??= []).push(k)
    }

    const markEnded = (lane: Lane) => {
      lane.ended = true
      stopping.delete(lane)
      const callbacks = lane.onEnded ?? []
      lane.onEnded = undefined
      for (const k of callbacks) k()
    }

    /** The context a run's fiber starts with: the layer's, the trigger's `JobContext` and the run's log. */
    const runContext = (jobContext: Job.JobContext["Type"], log: RunLog["Type"]) =>
      Context.unsafeMake<R | Job.JobContext | RunLog>(new RunServices(base.context.unsafeMap, jobContext, log))

    const runtimeFor = (trigger: TriggerParam, log: RunLog["Type"], thread: string) =>
      Runtime.make({
        context: runContext(
          {
            jobId: trigger.jobId,
            logId: trigger.logId,
            logDateTime: trigger.logDateTime,
            triggerTime: new Date(trigger.logDateTime),
            handler: trigger.executorHandler,
            params: trigger.executorParams,
            shardIndex: trigger.broadcastIndex,
            shardTotal: trigger.broadcastTotal,
            blockStrategy: trigger.executorBlockStrategy,
            timeoutSeconds: trigger.executorTimeout,
            glueType: trigger.glueType ?? "BEAN",
            log: (message) =>
              log.writer.append(formatEntry({ date: new Date(), source: log.source, level: "INFO", thread, message })),
            logRaw: (line) => log.writer.append(line)
          },
          log
        ),
        fiberRefs: base.fiberRefs,
        runtimeFlags: base.runtimeFlags
      })

    /**
     * Starts a run of `trigger` in a fiber of its own. When the fiber ends, however it ends, its result is
     * written to the run's log and reported, and the lane goes on (`afterRun`).
     */
    const startRun = (lane: Lane, trigger: TriggerParam) => {
      const writer = jobLog.writer({ logId: trigger.logId, logDateTime: trigger.logDateTime })
      // The job's own lines are capped (head and tail kept); the executor's markers always get through.
      const jobWriter = capped(writer, settings.maxRunLogBytes, Metrics.unsafeRecordLogBytes)
      const source = lane.job.name
      const thread = lane.thread
      writer.append(formatEntry({
        date: new Date(),
        source,
        level: "INFO",
        thread,
        message: Messages.logStart(trigger.executorParams)
      }))
      const seconds = trigger.executorTimeout
      const timed: Effect.Effect<Job.Outcome, unknown, R> = seconds > 0
        ? Effect.timeoutFail(lane.job.run, {
          duration: Duration.seconds(seconds),
          onTimeout: () => new RunTimedOut({ seconds })
        })
        : lane.job.run
      const run = tracing ? traced(lane, trigger, timed) : timed
      lane.running = trigger
      const startedAt = performance.now()
      // Started at once: we are on a turn of our own already (see `startWaiting`).
      const fiber = Runtime.runFork(runtimeFor(trigger, { writer: jobWriter, source }, thread), run, {
        immediate: true
      })
      lane.fiber = fiber
      fiber.addObserver((exit) => {
        let result: Pick<RunResult, "code" | "msg" | "outcome">
        try {
          const ended = resultOf(exit, lane.stopReason)
          // The log's kept tail (when it was too long for the cap) goes before the end markers.
          jobWriter.close()
          const level = ended.code === Code.success ? "INFO" : "ERROR"
          for (const line of ended.log) {
            writer.append(formatEntry({ date: new Date(), source, level, thread, message: line }))
          }
          result = ended
        } catch (error) {
          result = { code: Code.fail, msg: Messages.cutResult(String(error)), outcome: "failure" }
        }
        Metrics.unsafeRecordRun(source, result.outcome, (performance.now() - startedAt) / 1000)
        // Unless a forced shutdown has already answered for this run.
        if (lane.running === trigger) report(trigger, result.code, result.msg)
        lane.running = undefined
        lane.fiber = undefined
        lane.idleSince = now()
        afterRun(lane)
      })
    }

    /**
     * Lanes waiting take the free permits. Not re-entered: a run that ends at once inside it frees its permit
     * for this same loop (thousands of waiting lanes with instant jobs would otherwise nest that deep).
     */
    let waking = false
    const wakeWaiting = () => {
      if (waking) return
      waking = true
      while (freePermits > 0 && waitingForPermit.length > 0) runNext(waitingForPermit.shift()!)
      waking = false
    }

    /** Between runs: the permit goes back, a stopped lane is done, a running one takes its next trigger. */
    const afterRun = (lane: Lane) => {
      if (limited) {
        freePermits++
        wakeWaiting()
      }
      if (lane.stopReason !== undefined) markEnded(lane)
      else if (!lane.starting) runNext(lane)
    }

    /**
     * Runs the lane's next trigger, if it has one and a permit is free; otherwise the lane waits for a
     * permit, or has no more work. A job that ends at once ends inside `startRun`: the loop takes the next.
     */
    const runNext = (lane: Lane): void => {
      lane.starting = true
      while (lane.running === undefined) {
        if (lane.stopReason !== undefined || lane.queue.length === 0) {
          lane.active = false
          break
        }
        if (limited && freePermits === 0) {
          waitingForPermit.push(lane)
          break
        }
        const next = lane.queue.shift()!
        // An empty set is let go: most lanes run one trigger at a time, and a set per running job adds up.
        if (lane.queue.length === 0) lane.queuedLogIds = undefined
        else lane.queuedLogIds?.delete(next.logId)
        if (limited) freePermits--
        startRun(lane, next)
      }
      lane.starting = false
    }

    /**
     * Lanes whose work starts on the next turn of the event loop, so that the trigger's answer goes out
     * before any of the job runs (a job that blocks the thread must not make `/run` late).
     */
    let starting: Array<Lane> = []
    const startWaiting = () => {
      const due = starting
      starting = []
      for (const lane of due) {
        // A replacement starts once the run it replaces has ended.
        const previous = lane.previous
        if (previous === undefined) {
          runNext(lane)
        } else {
          whenEnded(previous, () => {
            lane.previous = undefined
            runNext(lane)
          })
        }
      }
    }

    const startWorker = (lane: Lane) => {
      if (lane.active || lane.stopReason !== undefined) return
      lane.active = true
      if (starting.push(lane) === 1) setImmediate(startWaiting)
    }

    /**
     * Stops a lane, in one synchronous step: it leaves the map, its queued triggers are answered, and its run
     * is interrupted (its result is reported when it has ended, with the reason).
     */
    const stop = (lane: Lane, reason: string): void => {
      if (lane.stopReason !== undefined) return
      lane.stopReason = reason
      if (lanes.get(lane.jobId) === lane) lanes.delete(lane.jobId)
      const queued = lane.queue.splice(0)
      lane.queuedLogIds = undefined
      for (const trigger of queued) report(trigger, Code.fail, Messages.queuedKilled(reason))
      if (lane.fiber === undefined) {
        markEnded(lane)
        return
      }
      stopping.add(lane)
      lane.fiber.unsafeInterruptAsFork(FiberId.none)
    }

    const newLane = (jobId: number, handlerKey: string, job: Job.Job<any>, previous: Lane | undefined): Lane => {
      const lane: Lane = {
        jobId,
        handlerKey,
        job,
        thread: `job-${jobId}`,
        queue: [],
        queuedLogIds: undefined,
        running: undefined,
        fiber: undefined,
        active: false,
        starting: false,
        stopReason: undefined,
        idleSince: now(),
        previous,
        ended: false,
        onEnded: undefined
      }
      lanes.set(jobId, lane)
      return lane
    }

    const scripts = settings.glueScripts ? yield* GlueScript.makeRunner(settings.logPath) : undefined

    /**
     * The job a trigger asks for, the key its lane runs (a trigger with another key replaces the lane) and
     * the reason given to the lane it replaces; or why there is none.
     */
    const resolveJob = (
      param: TriggerParam,
      current: Lane | undefined
    ): { job: Job.Job<any>; key: string; replaces: string } | string => {
      const glueType = param.glueType
      if (glueType === "BEAN") {
        const job = registry.jobs.get(param.executorHandler)
        return job === undefined
          ? Messages.jobHandlerNotFound(param.executorHandler)
          : { job, key: `BEAN:${job.name}`, replaces: Messages.changeHandler }
      }
      if (GlueScript.isScript(glueType)) {
        if (scripts === undefined) return Messages.glueTypeNotEnabled(glueType!)
        // A script's version is its glueUpdatetime, as in Java: the same version keeps its lane and source.
        const key = `${glueType}:${param.glueUpdatetime}`
        const job = current?.handlerKey === key ? current.job : scripts.jobFor(param)
        return { job, key, replaces: Messages.changeSource }
      }
      if (glueType === "GLUE_GROOVY") return Messages.glueGroovyNotSupported
      return Messages.glueTypeNotValid(glueType)
    }

    /** Decides a trigger's fate and changes the lanes accordingly, in one synchronous step. */
    const admit = (param: TriggerParam): Admission => {
      if (closed) return refused(Messages.shuttingDown)
      let lane = lanes.get(param.jobId)
      const resolved = resolveJob(param, lane)
      if (typeof resolved === "string") return refused(resolved)
      let replaced: Lane | undefined
      if (lane !== undefined && lane.handlerKey !== resolved.key) {
        stop(lane, resolved.replaces)
        replaced = lane
        lane = undefined
      }
      const strategy = blockStrategies.has(param.executorBlockStrategy)
        ? param.executorBlockStrategy
        : "SERIAL_EXECUTION"
      if (lane !== undefined && isBusy(lane)) {
        if (strategy === "DISCARD_LATER") return refused(Messages.discardLater)
        if (strategy === "COVER_EARLY") {
          stop(lane, Messages.coverEarly)
          replaced = lane
          lane = undefined
        }
      }
      if (lane !== undefined) {
        if (lane.queuedLogIds?.has(param.logId)) return refused(Messages.repeatTrigger(param.logId))
        if (lane.queue.length >= settings.queueLimit) {
          return refused(Messages.queueFull(param.jobId, settings.queueLimit))
        }
      } else {
        lane = newLane(param.jobId, resolved.key, resolved.job, replaced)
      }
      lane.queue.push(param)
      ;(lane.queuedLogIds ??= new Set()).add(param.logId)
      startWorker(lane)
      return accepted
    }

    const trigger = (param: TriggerParam): Effect.Effect<Admission> =>
      tracing
        ? Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
          Effect.sync(() => {
            admissions.set(param, { at: Date.now(), span: Option.getOrUndefined(span) })
            return admit(param)
          }))
        : Effect.sync(() => admit(param))

    const kill = (jobId: number) =>
      Effect.sync(() => {
        const lane = lanes.get(jobId)
        if (lane === undefined) return false
        stop(lane, Messages.killedByAdmin)
        return true
      })

    const isIdle = (jobId: number) =>
      Effect.sync(() => {
        const lane = lanes.get(jobId)
        if (lane !== undefined && isBusy(lane)) return false
        for (const other of stopping) if (other.jobId === jobId) return false
        return true
      })

    const stats = Effect.sync(() => {
      let running = 0
      let queued = 0
      for (const lane of lanes.values()) {
        if (lane.running !== undefined) running++
        queued += lane.queue.length
      }
      for (const lane of stopping) if (lane.running !== undefined) running++
      return { running, queued, lanes: lanes.size }
    })

    // Idle lanes are retired, as Java's JobThread ends itself after ~90 s without work.
    const idleMillis = Duration.toMillis(settings.laneIdleTimeout)
    yield* Effect.sync(() => {
      const limit = now() - idleMillis
      for (const lane of lanes.values()) {
        if (!isBusy(lane) && !lane.active && lane.idleSince <= limit) lanes.delete(lane.jobId)
      }
    }).pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(Math.max(1000, idleMillis / 3)))),
      Effect.interruptible,
      Effect.forkScoped
    )

    const refuseNew = Effect.sync(() => {
      closed = true
    })

    const busyLanes = () => [...lanes.values()].filter(isBusy).length + stopping.size

    const ended = (lane: Lane) => Effect.async<void>((resume) => whenEnded(lane, () => resume(Effect.void)))

    const drain = (grace: Duration.Duration) =>
      Effect.gen(function*() {
        closed = true
        // Runs and queued triggers go on for the grace period, as Java's executor sleeps before it stops.
        if (busyLanes() > 0 && Duration.toMillis(grace) > 0) {
          yield* Effect.logInfo(`draining: waiting up to ${Duration.format(grace)} for ${busyLanes()} busy job(s)`)
          yield* Effect.sleep(Duration.millis(50)).pipe(
            Effect.repeat({ until: () => busyLanes() === 0 }),
            Effect.timeout(grace),
            Effect.ignore
          )
        }
        // Then Java's "web container destroy and kill the job." for whatever is left.
        const all = [...lanes.values(), ...stopping]
        for (const lane of all) stop(lane, Messages.shutdownKill)
        const allEnded = yield* Effect.forEach(all, ended, { discard: true }).pipe(
          Effect.timeout(stopGrace),
          Effect.isSuccess
        )
        if (!allEnded) {
          // A run that ignores interruption: answer for it now, since the process is about to end.
          for (const lane of all) {
            const stuck = lane.running
            if (stuck === undefined) continue
            lane.running = undefined
            yield* Effect.logError(
              `run ${stuck.logId} of job ${lane.jobId} did not stop within ${Duration.format(stopGrace)}`
            )
            report(stuck, Code.fail, Messages.runningKilled(Messages.shutdownKill))
          }
        }
      }).pipe(whileClosing)

    // Closing without a drain first (in-process use): stop everything at once.
    yield* Effect.addFinalizer(() => drain(Duration.zero))

    return { trigger, unsafeTrigger: admit, kill, isIdle, stats, refuseNew, drain } satisfies Service
  })

/**
 * @since 1.0.0
 * @category layers
 */
export const layer = <R>(registry: Job.Registry<R>): Layer.Layer<Lanes, never, R | ExecutorConfig | JobLog | Outbox> =>
  Layer.scoped(Lanes, make(registry))
