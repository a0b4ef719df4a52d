/**
 * Admission and the block strategies: a lane per jobId, Java's `JobThread` and its trigger queue. A lane runs
 * its triggers one at a time in arrival order (SERIAL_EXECUTION); DISCARD_LATER refuses while it is busy;
 * COVER_EARLY stops it and starts a new one; a trigger for another handler (or another GLUE source) replaces
 * it. `/kill` stops the job's lane; shutdown drains every lane. Every accepted trigger gets exactly one
 * result, handed to the outbox: from its run (`run.ts`), or from the stop that answered it while it waited.
 *
 * A lane's states, which follow from its fields (`queue`, `run`, `stopReason`) rather than being kept:
 *
 * | state      | queue | run   | moves on when                                                            |
 * | ---------- | ----- | ----- | ------------------------------------------------------------------------ |
 * | `idle`     | empty | none  | a trigger comes → `starting`; nothing comes for `laneIdleTimeout` → gone  |
 * | `starting` | some  | none  | its turn comes¹ → `running`                                               |
 * | `running`  | any   | one   | the run ends → `starting` with triggers left, else `idle`                 |
 * | `stopped`  | empty | maybe | (final) out of the table; its queue was answered when it stopped, its run |
 * |            |       |       | is interrupted and answers for itself when it has ended                   |
 *
 * Any state but `stopped` goes to `stopped` on a kill, COVER_EARLY, another handler, or shutdown.
 *
 * ¹ Its turn: its next trigger's answer has gone out (`/run` answers once the trigger is recorded, and a
 * job that blocks the thread must not make that late), then the next turn of the event loop, once no run of
 * the same jobId is still ending (a stopped lane's: runs of a job never overlap), and once a permit is free
 * when runs at once are limited (`maxConcurrentRuns`).
 *
 * The lanes are plain data changed only in synchronous steps (an admission, a run's end, a stop), so nothing
 * ever sees one half changed. The runs are fibers, kept in a `FiberMap` by jobId: "is a run of this job still
 * ending?" is a look-up there, and shutdown waits for the map to empty.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberMap from "effect/FiberMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import { ExecutorConfig, type Settings } from "../ExecutorConfig.js"
import type * as Job from "../Job.js"
import { Code, type TriggerParam } from "../Wire.js"
import { whileClosing } from "./closing.js"
import * as GlueScript from "./glueScript.js"
import * as Messages from "./messages.js"
import { Outbox } from "./outbox.js"
import { makeRuns, type RunOwner, type RunResult, type Runs } from "./run.js"
import type { RunLogs } from "./runLogs.js"

/**
 * What a trigger gets: accepted (its result comes later, through the outbox) or refused with the message
 * `/run` answers (no result follows).
 */
export type Admission = { readonly _tag: "Accepted" } | { readonly _tag: "Refused"; readonly reason: string }

/** @internal */
export interface Service {
  /**
   * Takes a trigger: queues it, or refuses it, by its lane's state and the block strategy. An accepted trigger
   * runs once its answer has gone out (`answered`).
   */
  readonly admit: (trigger: TriggerParam) => Admission
  /** The accepted trigger's answer has gone out: it may run. */
  readonly answered: (trigger: TriggerParam) => void
  /** `admit`, after noting the span of the request that brought the trigger (its run's span links to it). */
  readonly admitTraced: (trigger: TriggerParam) => Effect.Effect<Admission>
  /** Stops the job's lane (`/kill`): false when there was none. */
  readonly kill: (jobId: number) => boolean
  /** True when nothing runs or waits for the job, and no stopped run of it is still ending. */
  readonly isIdle: (jobId: number) => boolean
  /** Runs now (stopped ones still ending included), triggers waiting, and lanes. */
  readonly stats: Effect.Effect<{ readonly running: number; readonly queued: number; readonly lanes: number }>
  /** Refuses every trigger from now on (the executor is shutting down). */
  readonly refuseNew: Effect.Effect<void>
  /** False once triggers are refused for shutting down (`refuseNew`, `drain`): the readiness probe. */
  readonly accepting: () => boolean
  /**
   * Shuts the lanes down: refuses new triggers, lets runs and queued triggers go on for `grace`, then stops
   * every lane with "web container destroy and kill the job." and waits (bounded) for the runs to report.
   */
  readonly drain: (grace: Duration.Duration) => Effect.Effect<void>
}

/** @internal */
export class Lanes extends Context.Tag("effect-xxl-job/internal/Lanes")<Lanes, Service>() {}

/** How long stopped runs get to end (their finalizers) at shutdown before we answer for them. */
const stopGrace = Duration.seconds(5)

const accepted: Admission = { _tag: "Accepted" }
const refused = (reason: string): Admission => ({ _tag: "Refused", reason })

const blockStrategies = new Set(["SERIAL_EXECUTION", "DISCARD_LATER", "COVER_EARLY"])

/** A lane's job: one of the registry's, or a GLUE script's (which fails with `JobFailed` only). */
type LaneJob<E, R> = Job.Job<E | Job.JobFailed, R>

interface Lane<E, R> extends RunOwner {
  readonly jobId: number
  /** Which handler the lane runs: a trigger for another one replaces the lane. */
  readonly handlerKey: string
  readonly job: LaneJob<E, R>
  readonly queue: Array<TriggerParam>
  /** The logIds in `queue` (for Java's repeat check), made when something is queued. */
  queuedLogIds: Set<number> | undefined
  /**
   * The run in flight (its fiber, once started), cleared when its result is reported, or when a forced
   * shutdown answered for it.
   */
  run: { readonly trigger: TriggerParam; fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined } | undefined
  /** True while `takeNext` works on the lane (a run that ends at once then leaves the next to it). */
  takingNext: boolean
  /** True while the lane waits for its turn on the next turn of the event loop (it is in `due`). */
  due: boolean
  stopReason: string | undefined
  idleSince: number
}

/** The job a trigger asks for, the key its lane runs, and the reason given to a lane it replaces. */
interface Resolved<E, R> {
  readonly job: LaneJob<E, R>
  readonly key: string
  readonly replaces: string
}

/** The lanes of one executor. */
class LaneTable<E, R> {
  private readonly lanes = new Map<number, Lane<E, R>>()
  /** Stopped lanes whose run has not ended yet. */
  private readonly stopping = new Set<Lane<E, R>>()
  /** Lanes whose turn comes on the next turn of the event loop. */
  private due: Array<Lane<E, R>> = []
  /** Accepted triggers whose answer has not gone out yet: they may not run. */
  private readonly unanswered = new WeakSet<TriggerParam>()
  private closed = false
  /**
   * Run permits when runs at once are limited (`maxConcurrentRuns`): how many are free, and the lanes waiting
   * for one, in order. (An Effect Semaphore cost a fiber per run to hold its permit: the engine's CPU per
   * trigger went from 16 to 46 µs with a limit set, measured.)
   */
  private readonly limited: boolean
  private freePermits: number
  /** Lanes waiting for a permit, in the order they came (a Set: a lane woken again waits once). */
  private readonly waitingForPermit = new Set<Lane<E, R>>()
  private wakingWaiting = false

  constructor(
    private readonly settings: Settings,
    private readonly registry: Job.Registry<E, R>,
    private readonly scripts: GlueScript.Runner | undefined,
    private readonly runs: Runs<R>,
    /** The runs in flight, stopped ones still ending included, by jobId. */
    private readonly fibers: FiberMap.FiberMap<number>,
    private readonly outbox: Outbox["Type"],
    private readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>,
    private readonly now: () => number
  ) {
    this.limited = settings.maxConcurrentRuns > 0
    this.freePermits = settings.maxConcurrentRuns
  }

  /** Decides a trigger's fate and changes the lanes accordingly, in one synchronous step. */
  admit(trigger: TriggerParam): Admission {
    if (this.closed) return refused(Messages.shuttingDown)
    let lane = this.lanes.get(trigger.jobId)
    const resolved = this.resolveJob(trigger, lane)
    if (typeof resolved === "string") return refused(resolved)
    if (lane !== undefined && lane.handlerKey !== resolved.key) {
      this.stop(lane, resolved.replaces)
      lane = undefined
    }
    const strategy = blockStrategies.has(trigger.executorBlockStrategy)
      ? trigger.executorBlockStrategy
      : "SERIAL_EXECUTION"
    if (lane !== undefined && isBusy(lane)) {
      if (strategy === "DISCARD_LATER") return refused(Messages.discardLater)
      if (strategy === "COVER_EARLY") {
        this.stop(lane, Messages.coverEarly)
        lane = undefined
      }
    }
    if (lane !== undefined) {
      if (lane.queuedLogIds?.has(trigger.logId)) return refused(Messages.repeatTrigger(trigger.logId))
      if (lane.queue.length >= this.settings.queueLimit) {
        return refused(Messages.queueFull(trigger.jobId, this.settings.queueLimit))
      }
    } else {
      lane = this.newLane(trigger.jobId, resolved)
    }
    lane.queue.push(trigger)
    ;(lane.queuedLogIds ??= new Set()).add(trigger.logId)
    this.unanswered.add(trigger)
    return accepted
  }

  /** The job a trigger asks for (see `Resolved`), or why there is none. */
  private resolveJob(trigger: TriggerParam, current: Lane<E, R> | undefined): Resolved<E, R> | string {
    const glueType = trigger.glueType
    if (glueType === "BEAN") {
      const job = this.registry.jobs.get(trigger.executorHandler)
      return job === undefined
        ? Messages.jobHandlerNotFound(trigger.executorHandler)
        : { job, key: `BEAN:${job.name}`, replaces: Messages.changeHandler }
    }
    if (GlueScript.isScript(glueType)) {
      if (this.scripts === undefined) return Messages.glueTypeNotEnabled(glueType!)
      // A script's version is its glueUpdatetime, as in Java: the same version keeps its lane and source.
      const key = `${glueType}:${trigger.glueUpdatetime}`
      const job = current?.handlerKey === key ? current.job : this.scripts.jobFor(trigger)
      return { job, key, replaces: Messages.changeSource }
    }
    if (glueType === "GLUE_GROOVY") return Messages.glueGroovyNotSupported
    return Messages.glueTypeNotValid(glueType)
  }

  private newLane(jobId: number, { job, key }: Resolved<E, R>): Lane<E, R> {
    const lane: Lane<E, R> = {
      jobId,
      handlerKey: key,
      job,
      thread: `job-${jobId}`,
      queue: [],
      queuedLogIds: undefined,
      run: undefined,
      takingNext: false,
      due: false,
      stopReason: undefined,
      idleSince: this.now(),
      runEnded: (trigger, result) => this.runEnded(lane, trigger, result)
    }
    this.lanes.set(jobId, lane)
    return lane
  }

  /** See `Service.answered`: the trigger's lane, if it waits for nothing else, takes its turn. */
  answered(trigger: TriggerParam): void {
    this.unanswered.delete(trigger)
    const lane = this.lanes.get(trigger.jobId)
    if (lane !== undefined) this.wake(lane)
  }

  /** A lane with a trigger it may run now waits for its turn: the next turn of the event loop. */
  private wake(lane: Lane<E, R>): void {
    if (lane.due || lane.run !== undefined || lane.takingNext || lane.stopReason !== undefined) return
    lane.due = true
    if (this.due.push(lane) === 1) setImmediate(() => this.startDue())
  }

  private startDue(): void {
    const due = this.due
    this.due = []
    for (const lane of due) {
      lane.due = false
      this.startWhenJobFree(lane)
    }
  }

  /**
   * Takes the lane's next trigger once no run of its job is still ending. Only a stopped lane's can be (a
   * lane that wakes has no run of its own), so the map is looked at only while some lane is stopping.
   */
  private startWhenJobFree(lane: Lane<E, R>): void {
    if (this.stopping.size === 0) return this.takeNext(lane)
    const ending = FiberMap.unsafeGet(this.fibers, lane.jobId)
    if (Option.isNone(ending)) return this.takeNext(lane)
    this.runFork(Effect.zipRight(Fiber.await(ending.value), Effect.sync(() => this.startWhenJobFree(lane))))
  }

  /**
   * Runs the lane's next triggers, one at a time, for as long as the runs end at once: a job that ends at once
   * ends inside `startRun`, and the loop takes the next (rather than nesting a call per run). With runs at once
   * limited and none is free, the lane waits in line for one (`givePermitBack` hands it on).
   */
  private takeNext(lane: Lane<E, R>): void {
    lane.takingNext = true
    while (lane.run === undefined) {
      if (lane.stopReason !== undefined) break
      if (lane.queue.length === 0) break
      // Its answer has not gone out yet: `answered` wakes the lane.
      if (this.unanswered.has(lane.queue[0])) break
      if (this.limited) {
        if (this.freePermits === 0) {
          this.waitingForPermit.add(lane)
          break
        }
        this.freePermits--
      }
      this.startRun(lane, this.dequeue(lane))
    }
    lane.takingNext = false
  }

  /**
   * A run of a limited executor has ended: its permit goes to the lanes waiting, first come first served. Not
   * re-entered: a run that ends at once inside it gives its permit back to this same loop (thousands of
   * waiting lanes with instant jobs would otherwise nest that deep).
   */
  private givePermitBack(): void {
    this.freePermits++
    if (this.wakingWaiting) return
    this.wakingWaiting = true
    while (this.freePermits > 0 && this.waitingForPermit.size > 0) {
      const [first] = this.waitingForPermit
      this.waitingForPermit.delete(first)
      this.takeNext(first)
    }
    this.wakingWaiting = false
  }

  private dequeue(lane: Lane<E, R>): TriggerParam {
    const next = lane.queue.shift()!
    // An empty set is let go: most lanes run one trigger at a time, and a set per running job adds up.
    if (lane.queue.length === 0) lane.queuedLogIds = undefined
    else lane.queuedLogIds?.delete(next.logId)
    return next
  }

  /** Starts a run of `trigger` (`runEnded` hears of its end). */
  private startRun(lane: Lane<E, R>, trigger: TriggerParam): void {
    this.outbox.started(trigger)
    const run: NonNullable<Lane<E, R>["run"]> = { trigger, fiber: undefined }
    lane.run = run
    const fiber = this.runs.start(lane.job, trigger, lane)
    // A run that ended at once has been reported by now, and is not kept.
    if (lane.run === run) {
      run.fiber = fiber
      FiberMap.unsafeSet(this.fibers, lane.jobId, fiber)
    }
  }

  /** A run has ended: its result goes to the admin, and the lane goes on (or is done, if stopped). */
  private runEnded(lane: Lane<E, R>, trigger: TriggerParam, result: RunResult): void {
    // Unless a forced shutdown has already answered for this run.
    if (lane.run?.trigger === trigger) this.report(trigger, result.code, result.msg)
    lane.run = undefined
    lane.idleSince = this.now()
    // The permit first goes to the lanes that waited for one, then this lane takes its next trigger.
    if (this.limited) this.givePermitBack()
    if (lane.stopReason !== undefined) {
      this.stopping.delete(lane)
      return
    }
    if (!lane.takingNext) this.takeNext(lane)
  }

  /**
   * Stops a lane, in one synchronous step: it leaves the table, its queued triggers are answered, and its run
   * is interrupted (its result is reported when it has ended, with the reason).
   */
  private stop(lane: Lane<E, R>, reason: string): void {
    if (lane.stopReason !== undefined) return
    lane.stopReason = reason
    this.waitingForPermit.delete(lane)
    if (this.lanes.get(lane.jobId) === lane) this.lanes.delete(lane.jobId)
    const queued = lane.queue.splice(0)
    lane.queuedLogIds = undefined
    for (const trigger of queued) this.report(trigger, Code.fail, Messages.queuedKilled(reason))
    if (lane.run === undefined) return
    this.stopping.add(lane)
    lane.run.fiber?.unsafeInterruptAsFork(FiberId.none)
  }

  private report(trigger: TriggerParam, code: number, msg: string | undefined): void {
    this.outbox.offer(trigger, code, msg)
  }

  kill(jobId: number): boolean {
    const lane = this.lanes.get(jobId)
    if (lane === undefined) return false
    this.stop(lane, Messages.killedByAdmin)
    return true
  }

  isIdle(jobId: number): boolean {
    const lane = this.lanes.get(jobId)
    return (lane === undefined || !isBusy(lane)) && !FiberMap.unsafeHas(this.fibers, jobId)
  }

  stats() {
    let queued = 0
    for (const lane of this.lanes.values()) queued += lane.queue.length
    return { running: this.stopping.size + this.runningLanes(), queued, lanes: this.lanes.size }
  }

  private runningLanes(): number {
    let running = 0
    for (const lane of this.lanes.values()) if (lane.run !== undefined) running++
    return running
  }

  /** Idle lanes are retired, as Java's JobThread ends itself after ~90 s without work. */
  retireIdle(): void {
    const limit = this.now() - Duration.toMillis(this.settings.laneIdleTimeout)
    for (const lane of this.lanes.values()) {
      if (!isBusy(lane) && lane.idleSince <= limit) this.lanes.delete(lane.jobId)
    }
  }

  refuseNew(): void {
    this.closed = true
  }

  isRefusingNew(): boolean {
    return this.closed
  }

  private busyLanes(): number {
    let busy = this.stopping.size
    for (const lane of this.lanes.values()) if (isBusy(lane)) busy++
    return busy
  }

  /** See `Service.drain`. */
  drain(grace: Duration.Duration): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      this.closed = true
      // Runs and queued triggers go on for the grace period, as Java's executor sleeps before it stops.
      if (this.busyLanes() > 0 && Duration.toMillis(grace) > 0) {
        yield* Effect.logInfo(`draining: waiting up to ${Duration.format(grace)} for ${this.busyLanes()} busy job(s)`)
        yield* Effect.sleep(Duration.millis(50)).pipe(
          Effect.repeat({ until: () => this.busyLanes() === 0 }),
          Effect.timeout(grace),
          Effect.ignore
        )
      }
      // Then Java's "web container destroy and kill the job." for whatever is left.
      for (const lane of [...this.lanes.values()]) this.stop(lane, Messages.shutdownKill)
      const allEnded = yield* FiberMap.awaitEmpty(this.fibers).pipe(Effect.timeout(stopGrace), Effect.isSuccess)
      if (!allEnded) yield* this.answerForStuckRuns()
    }).pipe(whileClosing)
  }

  /** Runs that ignore interruption: answered now, since the process is about to end. */
  private answerForStuckRuns(): Effect.Effect<void> {
    return Effect.forEach([...this.stopping], (lane) => {
      const stuck = lane.run
      if (stuck === undefined) return Effect.void
      lane.run = undefined
      this.report(stuck.trigger, Code.fail, Messages.runningKilled(Messages.shutdownKill))
      return Effect.logError(
        `run ${stuck.trigger.logId} of job ${lane.jobId} did not stop within ${Duration.format(stopGrace)}`
      )
    }, { discard: true })
  }
}

const isBusy = (lane: Lane<unknown, unknown>) => lane.run !== undefined || lane.queue.length > 0

/**
 * Builds the lanes for a registry of jobs. The jobs' requirements `R` are taken from the layer's context
 * once (see `run.ts`), so a run never sees the HTTP request that triggered it.
 */
export const make = <E, R>(registry: Job.Registry<E, R>) =>
  Effect.gen(function*() {
    const settings = yield* ExecutorConfig
    const outbox = yield* Outbox
    const clock = yield* Effect.clock
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const runs = yield* makeRuns<R>()
    const fibers = yield* FiberMap.make<number>()
    const scripts = settings.glueScripts ? yield* GlueScript.makeRunner(settings.logPath) : undefined
    const table = new LaneTable<E, R>(
      settings,
      registry,
      scripts,
      runs,
      fibers,
      outbox,
      (effect) => runFork(effect),
      () => clock.unsafeCurrentTimeMillis()
    )
    yield* Effect.sync(() => table.retireIdle()).pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(Math.max(1000, Duration.toMillis(settings.laneIdleTimeout) / 3)))),
      Effect.interruptible,
      Effect.forkScoped
    )
    // Closing without a drain first (in-process use): stop everything at once.
    yield* Effect.addFinalizer(() => table.drain(Duration.zero))
    return {
      admit: (trigger) => table.admit(trigger),
      answered: (trigger) => table.answered(trigger),
      admitTraced: (trigger) => Effect.zipRight(runs.admitted(trigger), Effect.sync(() => table.admit(trigger))),
      kill: (jobId) => table.kill(jobId),
      isIdle: (jobId) => table.isIdle(jobId),
      stats: Effect.sync(() => table.stats()),
      refuseNew: Effect.sync(() => table.refuseNew()),
      accepting: () => !table.isRefusingNew(),
      drain: (grace) => table.drain(grace)
    } satisfies Service
  })

/** @internal */
export const layer = <E, R>(
  registry: Job.Registry<E, R>
): Layer.Layer<Lanes, never, R | ExecutorConfig | RunLogs | Outbox> => Layer.scoped(Lanes, make(registry))
