/**
 * Dispatch: one lane per jobId, the fiber version of Java's `JobThread`. A lane runs its triggers one at a
 * time in arrival order (SERIAL_EXECUTION); DISCARD_LATER refuses while it is busy; COVER_EARLY stops it and
 * starts a new one. `executorTimeout` interrupts a run (502), `/kill` interrupts it and reports what was
 * queued, and every accepted trigger gets exactly one result, handed to the `Outbox`.
 *
 * Lane state is plain mutable data changed only in synchronous steps, so no two fibers ever see it half
 * changed; a lane holds a fiber only while it has work.
 *
 * @since 1.0.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as FiberSet from "effect/FiberSet"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { ExecutorConfig } from "./ExecutorConfig.js"
import { whileClosing } from "./internal/closing.js"
import * as Job from "./Job.js"
import { capped, formatEntry, JobLog, type Writer } from "./JobLog.js"
import * as Messages from "./Messages.js"
import { Outbox } from "./Outbox.js"
import { CallbackItem, Code, type TriggerParam } from "./Wire.js"

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
  readonly queue: Array<TriggerParam>
  readonly queuedLogIds: Set<number>
  running: TriggerParam | undefined
  /** True while the lane has a fiber working through its queue. */
  active: boolean
  worker: Fiber.RuntimeFiber<void> | undefined
  stopReason: string | undefined
  idleSince: number
  /** The lane this one replaced: its last run must end before this one starts (no overlap). */
  readonly previous: Deferred.Deferred<void> | undefined
  /** Completed once the lane is stopped and its fiber has ended. */
  readonly finished: Deferred.Deferred<void>
}

const blockStrategies = new Set(["SERIAL_EXECUTION", "DISCARD_LATER", "COVER_EARLY"])
const glueScriptTypes = new Set([
  "GLUE_GROOVY",
  "GLUE_SHELL",
  "GLUE_PYTHON",
  "GLUE_PYTHON2",
  "GLUE_NODEJS",
  "GLUE_POWERSHELL",
  "GLUE_PHP"
])

/** The result of one run, from its exit. */
const resultOf = (
  exit: Exit.Exit<Job.Outcome, unknown>,
  stopReason: string | undefined
): { readonly code: number; readonly msg: string | undefined; readonly log: ReadonlyArray<string> } => {
  if (Exit.isSuccess(exit)) {
    const msg = typeof exit.value === "string" ? Messages.cutResult(exit.value) : undefined
    return { code: Code.success, msg, log: [Messages.logEnd(Code.success, msg)] }
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
        ]
      }
    }
    if (error instanceof Job.JobFailed || error instanceof Job.JobParamsError) {
      const code = error instanceof Job.JobFailed && error.code !== undefined ? error.code : Code.fail
      // Java: a result code of 0 or less leaves the admin's log "running"; it reports 500 instead.
      const [finalCode, msg] = code > 0
        ? [code, Messages.cutResult(error.message)]
        : [Code.fail, Messages.resultLost]
      return { code: finalCode, msg, log: [Messages.logEnd(finalCode, msg)] }
    }
  }
  if (Cause.isInterruptedOnly(cause)) {
    const msg = Messages.runningKilled(stopReason ?? "the job was interrupted.")
    return {
      code: Code.fail,
      msg,
      log: stopReason === undefined
        ? [Messages.logException(msg)]
        : [Messages.logStopped(stopReason), Messages.logException(msg)]
    }
  }
  const trace = Cause.pretty(cause, { renderErrorCause: true })
  return { code: Code.fail, msg: Messages.cutResult(trace), log: [Messages.logException(trace)] }
}

/** The log of the run a fiber works for, in the run's context; read by `laneLogger`. */
class RunLog extends Context.Tag("effect-xxl-job/Lanes/RunLog")<RunLog, {
  readonly writer: Writer
  readonly source: string
}>() {}

/**
 * The lane fibers' logger: inside a run, plain `Effect.log*` calls land in that run's log; anywhere else
 * (the executor's own logs) they go to the loggers the executor was built with. One logger for all runs:
 * a logger made per run cost an allocation and a hash each time.
 */
const laneLogger = (outer: HashSet.HashSet<Logger.Logger<unknown, any>>) =>
  Logger.make<unknown, void>((options) => {
    const run = Context.getOption(FiberRefs.getOrDefault(options.context, FiberRef.currentContext), RunLog)
    if (Option.isNone(run)) {
      for (const logger of outer) logger.log(options)
      return
    }
    const { annotations, cause, date, fiberId, logLevel, message } = options
    const parts = Array.isArray(message) ? message : [message]
    let text = parts.map((part) => Inspectable.toStringUnknown(part, 0)).join(" ")
    if (HashMap.size(annotations) > 0) {
      for (const [key, value] of annotations) text += ` ${key}=${Inspectable.toStringUnknown(value, 0)}`
    }
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
    // Lane fibers are forked with the layer's context, so jobs find their requirements `R` there, and with
    // the lane logger, so a run's logs land in its log.
    const outerLoggers = yield* FiberRef.get(FiberRef.currentLoggers)
    const runFork = yield* FiberSet.makeRuntime<R, void, never>().pipe(
      Effect.locally(FiberRef.currentLoggers, HashSet.make(laneLogger(outerLoggers)))
    )
    // Answers for stopped lanes' queued triggers go on in fibers of their own; shutdown waits for them.
    const answering = yield* FiberSet.make<void, never>()
    const runAnswer = yield* FiberSet.runtime(answering)<never>()

    /** Run permits when the number of runs at once is limited. */
    const permits = settings.maxConcurrentRuns > 0 ? yield* Effect.makeSemaphore(settings.maxConcurrentRuns) : undefined
    const lanes = new Map<number, Lane>()
    const stopping = new Set<Lane>()
    let closed = false

    const report = (trigger: TriggerParam, code: number, msg: string | undefined) =>
      outbox.offer(
        // Built from a decoded trigger and our own result: no need to validate again.
        new CallbackItem(
          { logId: trigger.logId, logDateTim: trigger.logDateTime, handleCode: code, handleMsg: msg },
          true
        )
      )

    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()

    const isBusy = (lane: Lane) => lane.running !== undefined || lane.queue.length > 0

    /** Runs one trigger of a lane and writes its log; gives the result to report. */
    const runLogged = (
      lane: Lane,
      trigger: TriggerParam,
      restore: <A, E, X>(self: Effect.Effect<A, E, X>) => Effect.Effect<A, E, X>
    ) =>
      Effect.suspend(() => {
        const writer = jobLog.writer({ logId: trigger.logId, logDateTime: trigger.logDateTime })
        // The job's own lines are capped; the executor's markers always get through.
        const jobWriter = capped(writer, settings.maxRunLogBytes)
        const source = lane.job.name
        const thread = `job-${lane.jobId}`
        writer.append(formatEntry({
          date: new Date(),
          source,
          level: "INFO",
          thread,
          message: Messages.logStart(trigger.executorParams)
        }))
        const context: Job.JobContextShape = {
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
          glueType: trigger.glueType ?? "BEAN"
        }
        const seconds = trigger.executorTimeout
        // The jobs' own requirements are already in the lane fiber's context (see `runFork`).
        const logged: Effect.Effect<Job.Outcome, unknown, R> = Effect.mapInputContext(
          lane.job.run,
          (outer: Context.Context<R>) =>
            Context.add(Context.add(outer, Job.JobContext, context), RunLog, { writer: jobWriter, source })
        )
        const run = seconds > 0
          ? Effect.timeoutFail(logged, {
            duration: Duration.seconds(seconds),
            onTimeout: () => new RunTimedOut({ seconds })
          })
          : logged
        // The log is written behind the run: a `/log` read sees it, and a result never waits for the disk.
        return Effect.map(Effect.exit(restore(run)), (exit) => {
          const result = resultOf(exit, lane.stopReason)
          const truncation = jobWriter.truncation()
          const level = result.code === Code.success ? "INFO" : "ERROR"
          for (const line of truncation === undefined ? result.log : [truncation, ...result.log]) {
            writer.append(formatEntry({ date: new Date(), source, level, thread, message: line }))
          }
          return result
        })
      })

    /** Runs one trigger of a lane, start to reported result: a result is reported whatever goes wrong. */
    const execute = (
      lane: Lane,
      trigger: TriggerParam,
      restore: <A, E, X>(self: Effect.Effect<A, E, X>) => Effect.Effect<A, E, X>
    ) =>
      runLogged(lane, trigger, restore).pipe(
        Effect.catchAllCause((cause) =>
          Effect.succeed({ code: Code.fail, msg: Messages.cutResult(Cause.pretty(cause)) })
        ),
        // Unless a forced shutdown has already answered for this run.
        Effect.flatMap((result) => lane.running === trigger ? report(trigger, result.code, result.msg) : Effect.void),
        Effect.ensuring(Effect.sync(() => {
          lane.running = undefined
          lane.idleSince = now()
        }))
      )

    /** Takes the lane's next trigger, or retires its fiber when there is none (one synchronous step). */
    const takeNext = (lane: Lane): TriggerParam | undefined => {
      const next = lane.stopReason === undefined ? lane.queue.shift() : undefined
      if (next === undefined) {
        lane.active = false
        lane.worker = undefined
        return undefined
      }
      lane.queuedLogIds.delete(next.logId)
      lane.running = next
      return next
    }

    /** One step of a lane's fiber: runs its next trigger (true), or retires the fiber (false). */
    const step = (lane: Lane) =>
      Effect.uninterruptibleMask((restore) => {
        // Between runs the fiber may be interrupted (waiting for a run permit included: the trigger then
        // is still queued); once a trigger is taken, its result is always reported.
        const runNext = Effect.suspend(() => {
          const next = takeNext(lane)
          return next === undefined ? Effect.succeed(false) : Effect.as(execute(lane, next, restore), true)
        })
        return permits === undefined
          ? runNext
          : Effect.zipRight(restore(permits.take(1)), Effect.ensuring(runNext, permits.release(1)))
      })

    const work = (lane: Lane): Effect.Effect<void, never, R> =>
      Effect.gen(function*() {
        if (lane.previous !== undefined) yield* Deferred.await(lane.previous)
        while (yield* step(lane)) {
          // next trigger
        }
      })

    /**
     * Lanes whose fiber starts on the next turn of the event loop, so that the trigger's answer goes out
     * before any of the job runs (a job that blocks the thread must not make `/run` late).
     */
    let starting: Array<Lane> = []
    const startWaiting = () => {
      const due = starting
      starting = []
      for (const lane of due) {
        // Stopped before it started: `stop` has answered its triggers already.
        if (lane.stopReason !== undefined) continue
        // The fiber may run to its end synchronously inside runFork: keep it only if it is still working.
        const fiber = runFork(work(lane))
        if (lane.active) lane.worker = fiber
      }
    }

    const startWorker = (lane: Lane) => {
      if (lane.active || lane.stopReason !== undefined) return
      lane.active = true
      if (starting.push(lane) === 1) setImmediate(startWaiting)
    }

    /**
     * Stops a lane, in one synchronous step: it leaves the map, its queued triggers are answered, its run is
     * interrupted, and `finished` completes once that run has ended. The answers and the interruption go on
     * in fibers of their own, so no other trigger can see the lanes half changed.
     */
    const stop = (lane: Lane, reason: string): void => {
      if (lane.stopReason !== undefined) return
      lane.stopReason = reason
      if (lanes.get(lane.jobId) === lane) lanes.delete(lane.jobId)
      const queued = lane.queue.splice(0)
      lane.queuedLogIds.clear()
      if (queued.length > 0) {
        runAnswer(Effect.forEach(queued, (trigger) => report(trigger, Code.fail, Messages.queuedKilled(reason)), {
          discard: true
        }))
      }
      const worker = lane.worker
      if (worker === undefined) {
        Deferred.unsafeDone(lane.finished, Exit.void)
        return
      }
      stopping.add(lane)
      runFork(
        Fiber.interrupt(worker).pipe(
          Effect.zipRight(Effect.suspend(() => {
            // A trigger taken but never reported (its fiber died before it could run) is still answered.
            const lost = lane.running
            lane.running = undefined
            return lost === undefined ? Effect.void : report(lost, Code.fail, Messages.runningKilled(reason))
          })),
          Effect.ensuring(Effect.sync(() => {
            stopping.delete(lane)
            Deferred.unsafeDone(lane.finished, Exit.void)
          }))
        )
      )
    }

    const newLane = (jobId: number, handlerKey: string, job: Job.Job<any>, previous: Lane | undefined): Lane => {
      const lane: Lane = {
        jobId,
        handlerKey,
        job,
        queue: [],
        queuedLogIds: new Set(),
        running: undefined,
        active: false,
        worker: undefined,
        stopReason: undefined,
        idleSince: now(),
        previous: previous?.finished,
        finished: Deferred.unsafeMake<void>(FiberId.none)
      }
      lanes.set(jobId, lane)
      return lane
    }

    const resolveJob = (param: TriggerParam): { job: Job.Job<any>; key: string } | string => {
      const glueType = param.glueType
      if (glueType === "BEAN") {
        const job = registry.jobs.get(param.executorHandler)
        return job === undefined ? Messages.jobHandlerNotFound(param.executorHandler) : { job, key: `BEAN:${job.name}` }
      }
      if (glueType !== undefined && glueScriptTypes.has(glueType)) return Messages.glueTypeNotSupported(glueType)
      return Messages.glueTypeNotValid(glueType)
    }

    /** Decides a trigger's fate and changes the lanes accordingly, in one synchronous step. */
    const admit = (param: TriggerParam): Admission => {
      if (closed) return refused(Messages.shuttingDown)
      const resolved = resolveJob(param)
      if (typeof resolved === "string") return refused(resolved)
      let lane = lanes.get(param.jobId)
      let replaced: Lane | undefined
      if (lane !== undefined && lane.handlerKey !== resolved.key) {
        stop(lane, Messages.changeHandler)
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
        if (lane.queuedLogIds.has(param.logId)) return refused(Messages.repeatTrigger(param.logId))
        if (lane.queue.length >= settings.queueLimit) {
          return refused(Messages.queueFull(param.jobId, settings.queueLimit))
        }
      } else {
        lane = newLane(param.jobId, resolved.key, resolved.job, replaced)
      }
      lane.queue.push(param)
      lane.queuedLogIds.add(param.logId)
      startWorker(lane)
      return accepted
    }

    const trigger = (param: TriggerParam): Effect.Effect<Admission> => Effect.sync(() => admit(param))

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
        const ended = yield* Effect.forEach(all, (lane) => Deferred.await(lane.finished), { discard: true }).pipe(
          Effect.zipRight(FiberSet.awaitEmpty(answering)),
          Effect.timeout(stopGrace),
          Effect.isSuccess
        )
        if (!ended) {
          // A run that ignores interruption: answer for it now, since the process is about to end.
          for (const lane of all) {
            const stuck = lane.running
            if (stuck === undefined) continue
            lane.running = undefined
            yield* Effect.logError(
              `run ${stuck.logId} of job ${lane.jobId} did not stop within ${Duration.format(stopGrace)}`
            )
            yield* report(stuck, Code.fail, Messages.runningKilled(Messages.shutdownKill))
          }
        }
      }).pipe(whileClosing)

    // Closing without a drain first (in-process use): stop everything at once.
    yield* Effect.addFinalizer(() => drain(Duration.zero))

    return { trigger, kill, isIdle, stats, refuseNew, drain } satisfies Service
  })

/**
 * @since 1.0.0
 * @category layers
 */
export const layer = <R>(registry: Job.Registry<R>): Layer.Layer<Lanes, never, R | ExecutorConfig | JobLog | Outbox> =>
  Layer.scoped(Lanes, make(registry))
