/**
 * A development admin: the mock admin grown into a small scheduler, so that an executor can be tried and
 * developed against with no Java and no database. Jobs are declared in code with a cron expression (Quartz
 * style, as in the admin: `0 0/5 * * * ?`), a fixed rate, or neither (manual triggers only); each has its
 * params, block strategy, timeout and routing over the executors registered with it (first, round robin,
 * sharding broadcast, failover by `/beat`, busyover by `/idleBeat`), as the real admin routes.
 *
 * It serves the admin's API over HTTP like `MockAdmin.serve` (executors register with it and send their
 * results to it) and reports what happens, by default as lines in the terminal: each trigger, where it went,
 * its result and the tail of its log. Its console, a web page at `{admin.url}/console/`, lists the jobs,
 * executors and recent runs, tails a run's log, and runs a job once, kills it or pauses its schedule.
 *
 * @example
 * ```ts
 * import { Console, Effect } from "effect"
 * import { DevAdmin } from "effect-xxl-job/dev"
 *
 * const admin = Effect.gen(function*() {
 *   const dev = yield* DevAdmin.start({
 *     jobs: [{ jobId: 1, handler: "hello", params: "world", schedule: { cron: "0/10 * * * * ?" } }]
 *   })
 *   yield* Console.log(`XXL_JOB_ADMIN_ADDRESSES=${dev.admin.url}`)
 *   return yield* Effect.never
 * })
 * Effect.runFork(Effect.scoped(admin))
 * ```
 *
 * @since 1.0.0
 */
import type { ServeError } from "@effect/platform/HttpServerError"
import { CronExpressionParser } from "cron-parser"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ConsoleApi from "./internal/console/api.js"
import { executorViews, makeRuns } from "./internal/console/runs.js"
import { scheduleProblem } from "./internal/jobSpecs.js"
import { terminalLines } from "./internal/terminalLines.js"
import * as MockAdmin from "./MockAdmin.js"
import * as Wire from "./Wire.js"

/**
 * How the admin picks the executor(s) for a trigger, as the admin's routing strategies do.
 *
 * @since 1.0.0
 * @category models
 */
export type Route = "FIRST" | "LAST" | "ROUND" | "SHARDING_BROADCAST" | "FAILOVER" | "BUSYOVER"

/**
 * When a job fires on its own: a Quartz cron expression (seconds first; `?` allowed), every so many seconds,
 * or never (manual triggers only).
 *
 * @since 1.0.0
 * @category models
 */
export type Schedule = { readonly cron: string } | { readonly everySeconds: number } | undefined

/**
 * A job as the admin knows it.
 *
 * @since 1.0.0
 * @category models
 */
export interface JobSpec {
  readonly jobId: number
  /** The BEAN handler name ("JobHandler" in the admin). */
  readonly handler: string
  readonly params?: string | undefined
  readonly schedule?: Schedule
  readonly route?: Route | undefined
  readonly blockStrategy?: "SERIAL_EXECUTION" | "DISCARD_LATER" | "COVER_EARLY" | undefined
  /** Seconds; 0 or absent: none. */
  readonly timeoutSeconds?: number | undefined
}

/**
 * What happened, for the view: a trigger sent (or not), and later its result with the end of its log.
 *
 * @since 1.0.0
 * @category models
 */
export type Event = Data.TaggedEnum<{
  Triggered: {
    readonly job: JobSpec
    readonly logId: number
    readonly executor: string
    readonly shard: readonly [index: number, total: number]
    readonly reply: Wire.Reply
  }
  NotTriggered: { readonly job: JobSpec; readonly reason: string }
  Finished: {
    readonly job: JobSpec
    readonly logId: number
    readonly code: number
    readonly msg: string | undefined
    readonly logTail: ReadonlyArray<string>
  }
}>

/**
 * @since 1.0.0
 * @category models
 */
export const Event = Data.taggedEnum<Event>()

/**
 * A job declaration that cannot be used, or a trigger for a job that is not declared: the job's `jobId` and
 * what is wrong (`problem`: a jobId declared twice, a schedule that cannot be read, no such job).
 *
 * @since 1.0.0
 * @category errors
 */
export class DevAdminError extends Data.TaggedError("DevAdminError")<{
  readonly jobId: number
  readonly problem: "DeclaredTwice" | "BadSchedule" | "NotDeclared"
  readonly message: string
}> {}

/**
 * @since 1.0.0
 * @category models
 */
export interface Service {
  /** The admin underneath: its URL (give it to executors as `XXL_JOB_ADMIN_ADDRESSES`), results, logs. */
  readonly admin: MockAdmin.Service
  /** Triggers a job now, routed as declared (params default to the declared ones); the triggers sent. */
  readonly trigger: (
    jobId: number,
    params?: string
  ) => Effect.Effect<ReadonlyArray<MockAdmin.Triggered>, DevAdminError>
  /** Kills the job on every executor registered. */
  readonly kill: (jobId: number) => Effect.Effect<void>
  /** Every event so far, in order. */
  readonly events: Effect.Effect<ReadonlyArray<Event>>
}

/**
 * The times a schedule fires after `after` (epoch ms), the next one first; none for manual jobs. Cron
 * expressions are read in the local time zone, as the admin reads them in its own.
 *
 * @since 1.0.0
 * @category schedules
 */
export const nextFireTime = (schedule: Schedule, after: number): number | undefined => {
  if (schedule === undefined) return undefined
  if ("everySeconds" in schedule) return after + schedule.everySeconds * 1000
  return CronExpressionParser.parse(schedule.cron, { currentDate: new Date(after) }).next().getTime()
}

/**
 * Checks a schedule once, at the start, so a typo is an error there and not a silent job that never runs: its
 * shape (declared in JSON or JavaScript, it is not type-checked), then its cron expression.
 */
const checkSchedule = (job: JobSpec) => {
  const badSchedule = (problem: string) =>
    new DevAdminError({
      jobId: job.jobId,
      problem: "BadSchedule",
      message: `job ${job.jobId} (${job.handler}): ${problem}`
    })
  const shape = scheduleProblem(job.schedule)
  if (shape !== undefined) return Effect.fail(badSchedule(shape))
  return Effect.try({
    try: () => nextFireTime(job.schedule, 0),
    catch: (error) =>
      badSchedule(
        `cron ${JSON.stringify((job.schedule as { cron: string }).cron)} cannot be read (${
          (error as Error).message
        }): a Quartz cron expression has 6 fields, seconds first, e.g. "0 0/5 * * * ?"`
      )
  })
}

/**
 * Fires `fire` at each time of the schedule, by the Effect clock (so `TestClock` drives it in tests), with
 * the time it was due. Runs until interrupted; a manual job's schedule ends at once.
 *
 * @since 1.0.0
 * @category schedules
 */
export const runSchedule = <E, R>(
  schedule: Schedule,
  fire: (dueAt: number) => Effect.Effect<void, E, R>
): Effect.Effect<void, E, R> =>
  Effect.gen(function*() {
    let after = yield* Clock.currentTimeMillis
    for (;;) {
      const due = nextFireTime(schedule, after)
      if (due === undefined) return
      const now = yield* Clock.currentTimeMillis
      if (due > now) yield* Effect.sleep(Duration.millis(due - now))
      yield* fire(due)
      after = due
    }
  })

/**
 * Prints events as lines, the way the admin's log list would show them: a trigger and where it went, then
 * its result and the last lines of its log.
 *
 * @since 1.0.0
 * @category views
 */
export const printEvent = (
  event: Event,
  print: (line: string) => void = (line) => process.stdout.write(`${line}\n`)
): void => {
  const time = new Date().toTimeString().slice(0, 8)
  const name = (job: JobSpec) => `job ${job.jobId} ${job.handler}`
  Event.$match(event, {
    Triggered: ({ executor, job, logId, reply, shard }) =>
      print(
        `${time} → ${name(job)} #${logId}${shard[1] > 1 ? ` shard ${shard[0]}/${shard[1]}` : ""} to ${executor}${
          reply.code === Wire.Code.success ? "" : `: refused, ${reply.msg}`
        }`
      ),
    NotTriggered: ({ job, reason }) => print(`${time} ✗ ${name(job)} not triggered: ${reason}`),
    Finished: ({ code, job, logId, logTail, msg }) => {
      print(`${time} ${code === Wire.Code.success ? "✔" : "✗"} ${name(job)} #${logId} → ${code}${msg ? ` ${msg}` : ""}`)
      // Java's `<br>` markers in the log text, as line breaks.
      for (const line of logTail.flatMap(terminalLines)) print(`           │ ${line}`)
    }
  })
}

/**
 * Options of the development admin.
 *
 * @since 1.0.0
 * @category models
 */
export interface Options {
  /** The jobs it schedules and triggers, one per jobId (a jobId declared twice is refused). */
  readonly jobs: ReadonlyArray<JobSpec>
  /** Where and how it serves the admin API (default: a free loopback port, `/xxl-job-admin`, no token). */
  readonly serve?: MockAdmin.ServeOptions | undefined
  /** Called with each event (default: `printEvent`); `false` for none. */
  readonly onEvent?: ((event: Event) => void) | false | undefined
  /** How many lines of a finished run's log its event carries (default 5). */
  readonly logTailLines?: number | undefined
}

/**
 * Starts the development admin: serves the admin API, and runs every job's schedule until the scope closes.
 *
 * @since 1.0.0
 * @category constructors
 */
export const start = (options: Options): Effect.Effect<Service, ServeError | DevAdminError, Scope.Scope> =>
  Effect.gen(function*() {
    const declared = new Set<number>()
    for (const job of options.jobs) {
      // The admin keys a job by its id: a second declaration would silently replace the first.
      if (declared.has(job.jobId)) {
        return yield* new DevAdminError({
          jobId: job.jobId,
          problem: "DeclaredTwice",
          message: `job ${job.jobId} is declared twice; each jobId is one job`
        })
      }
      declared.add(job.jobId)
      yield* checkSchedule(job)
    }
    // The console is served beside the admin API, once the admin is up (its parts are made below).
    const consoleSource: { current: ConsoleApi.Source | undefined } = { current: undefined }
    const admin = yield* MockAdmin.serve({
      // LogIds from the clock: files of earlier sessions are not overwritten by new runs.
      firstLogId: Math.floor(Date.now() / 1000),
      ...options.serve,
      routes: ConsoleApi.routes(() => consoleSource.current)
    })
    const jobs = new Map(options.jobs.map((job) => [job.jobId, job]))
    const runs = makeRuns()
    /** The jobs whose schedule the console paused: their times pass without a trigger. */
    const paused = new Set<number>()
    // Runs are followed until the admin closes, whoever triggered them.
    const scope = yield* Effect.scope
    const events: Array<Event> = []
    const onEvent = options.onEvent === false ? undefined : options.onEvent ?? ((event: Event) => printEvent(event))
    const tailLines = options.logTailLines ?? 5
    const emit = (event: Event) => {
      events.push(event)
      runs.record(event, Date.now())
      onEvent?.(event)
    }
    const rounds = new Map<number, number>()

    /** The executors a trigger goes to, with their shard; or why there is none. */
    const route = (job: JobSpec) =>
      Effect.gen(function*() {
        // As the admin: the executors online (beating; 90 s without a beat at its 30 s interval), sorted.
        const registrations = yield* admin.registrations
        const executors = executorViews(registrations, yield* Clock.currentTimeMillis)
          .filter((executor) => executor.status === "online")
          .map((executor) => executor.address)
          .sort()
        if (executors.length === 0) {
          return registrations.length === 0 ? "no executor has registered" : "no executor is online (none beats)"
        }
        const one = (executor: string): ReadonlyArray<readonly [string, number, number]> => [[executor, 0, 1]]
        switch (job.route ?? "FIRST") {
          case "FIRST":
            return one(executors[0])
          case "LAST":
            return one(executors[executors.length - 1])
          case "ROUND": {
            const round = rounds.get(job.jobId) ?? 0
            rounds.set(job.jobId, round + 1)
            return one(executors[round % executors.length])
          }
          case "SHARDING_BROADCAST":
            return executors.map((executor, index) => [executor, index, executors.length] as const)
          case "FAILOVER":
          case "BUSYOVER": {
            const failover = job.route === "FAILOVER"
            for (const executor of executors) {
              const reply = yield* admin.call(
                failover ? "/beat" : "/idleBeat",
                failover ? undefined : JSON.stringify({ jobId: job.jobId }),
                executor
              ).pipe(Effect.either)
              if (reply._tag === "Right" && reply.right.code === Wire.Code.success) return one(executor)
            }
            return failover ? "no executor answered /beat" : "every executor is busy with this job (/idleBeat)"
          }
        }
      })

    /** Waits for a run's result in the background, then reports it with its log's tail. */
    const follow = (job: JobSpec, logId: number) =>
      admin.result(logId, Duration.hours(24)).pipe(
        Effect.flatMap((item) =>
          admin.log(logId, 1).pipe(
            Effect.map((page) => page.logContent.trimEnd().split("\n").slice(-tailLines)),
            Effect.orElseSucceed((): ReadonlyArray<string> => []),
            Effect.map((logTail) =>
              emit(Event.Finished({ job, logId, code: item.handleCode, msg: item.handleMsg, logTail }))
            )
          )
        ),
        Effect.ignore,
        // Interruptible when the admin closes, even when forked from an uninterruptible region (a console
        // request's handler, which triggers runs too).
        Effect.interruptible,
        Effect.forkIn(scope)
      )

    const fire = (job: JobSpec, params: string | undefined, dueAt: number | undefined) =>
      Effect.gen(function*() {
        const targets = yield* route(job)
        if (typeof targets === "string") {
          emit(Event.NotTriggered({ job, reason: targets }))
          return []
        }
        const sent: Array<MockAdmin.Triggered> = []
        for (const [executor, index, total] of targets) {
          const triggered = yield* admin.trigger({
            jobId: job.jobId,
            handler: job.handler,
            params: params ?? job.params,
            blockStrategy: job.blockStrategy,
            timeoutSeconds: job.timeoutSeconds,
            shardIndex: index,
            shardTotal: total,
            executor,
            ...(dueAt === undefined ? {} : { logDateTime: dueAt })
          }).pipe(Effect.either)
          if (triggered._tag === "Left") {
            emit(Event.NotTriggered({ job, reason: `${executor}: ${triggered.left.message}` }))
            continue
          }
          sent.push(triggered.right)
          emit(Event.Triggered({
            job,
            logId: triggered.right.logId,
            executor,
            shard: [index, total],
            reply: triggered.right.reply
          }))
          if (triggered.right.reply.code === Wire.Code.success) yield* follow(job, triggered.right.logId)
        }
        return sent
      })

    for (const job of options.jobs) {
      if (job.schedule === undefined) continue
      yield* runSchedule(
        job.schedule,
        (dueAt) => paused.has(job.jobId) ? Effect.void : Effect.asVoid(fire(job, undefined, dueAt))
      ).pipe(Effect.forkScoped)
    }

    const trigger = (jobId: number, params?: string) =>
      Effect.suspend(() => {
        const job = jobs.get(jobId)
        return job === undefined
          ? Effect.fail(new DevAdminError({ jobId, problem: "NotDeclared", message: `no job ${jobId} is declared` }))
          : fire(job, params, undefined)
      })
    consoleSource.current = { admin, jobs: options.jobs, runs, paused, trigger }

    return {
      admin,
      trigger,
      kill: (jobId) =>
        Effect.flatMap(
          admin.executors,
          (executors) =>
            Effect.forEach(executors, (executor) => Effect.ignore(admin.kill(jobId, executor)), { discard: true })
        ),
      events: Effect.sync(() => [...events])
    } satisfies Service
  })
