/**
 * The development admin's console, its record: the recent runs (from the development admin's events) and
 * the executors (from their registrations), with the states the console shows them in.
 *
 * @internal
 */
import type * as DevAdmin from "../../DevAdmin.js"
import type * as MockAdmin from "../../MockAdmin.js"
import * as Wire from "../../Wire.js"
import * as Messages from "../messages.js"

/**
 * What became of a run: still running, its result (success, failed, timed out, killed), refused by the
 * executor's `/run` reply (DISCARD_LATER, queue full…), never sent (no executor, a call that failed), or lost
 * (its executor went offline or left while it ran).
 */
export type RunStatus = "running" | "success" | "failed" | "timed out" | "killed" | "refused" | "not triggered" | "lost"

/** A run as the console lists it. */
export interface RunView {
  readonly logId: number | null
  readonly jobId: number
  readonly handler: string
  readonly executor: string | null
  /** `index/total` when the run is one shard of a broadcast. */
  readonly shard: string | null
  readonly triggeredAt: number
  readonly finishedAt: number | null
  readonly status: RunStatus
  readonly code: number | null
  readonly msg: string | null
}

/** An executor as the console lists it: online while it beats, offline when it stopped, removed when it left. */
export interface ExecutorView {
  readonly address: string
  readonly appName: string
  readonly lastBeatAt: number
  readonly status: "online" | "offline" | "removed"
}

/** As the admin: an executor is dead after 90 s (3 of its 30 s beats) without a beat. */
const adminDeadAfterMs = 90_000

/** The markers of a killed run's result ("scheduling center kill job. [job running, killed]", …). */
const killedMarkers = [Messages.runningKilled("").trim(), Messages.queuedKilled("").trim()]

/** A result's status, from its code and message as the executor sent them. */
export const resultStatus = (code: number, msg: string | undefined): RunStatus =>
  code === Wire.Code.success
    ? "success"
    : code === Wire.Code.timeout
    ? "timed out"
    : killedMarkers.some((marker) => msg?.includes(marker))
    ? "killed"
    : "failed"

/**
 * The executors that registered, each with its last beat; offline after 3 of its beat intervals (the longest
 * gap seen between its beats since it last registered anew) without one, at most 90 s as the admin has it.
 * The development admin routes over the ones online.
 */
export const executorViews = (
  registrations: ReadonlyArray<MockAdmin.Registration>,
  now: number
): ReadonlyArray<ExecutorView> => {
  const seen = new Map<
    string,
    { appName: string; lastBeat: number | undefined; longestGap: number | undefined; removed: boolean }
  >()
  for (const registration of registrations) {
    const entry = seen.get(registration.address) ??
      { appName: registration.appName, lastBeat: undefined, longestGap: undefined, removed: false }
    seen.set(registration.address, entry)
    entry.appName = registration.appName
    if (registration.kind === "registryRemove") {
      // A new start begins a new count: its first beat is not a gap from the old run's last.
      Object.assign(entry, { removed: true, longestGap: undefined })
      continue
    }
    const at = registration.at.getTime()
    if (entry.lastBeat !== undefined && !entry.removed) {
      entry.longestGap = Math.max(entry.longestGap ?? 0, at - entry.lastBeat)
    }
    Object.assign(entry, { removed: false, lastBeat: at })
  }
  return [...seen].map(([address, { appName, lastBeat, longestGap, removed }]): ExecutorView => {
    const last = lastBeat ?? 0
    const deadAfter = longestGap === undefined
      ? adminDeadAfterMs
      : Math.min(adminDeadAfterMs, 3 * Math.max(longestGap, 1))
    return {
      address,
      appName,
      lastBeatAt: last,
      status: removed ? "removed" : now - last > deadAfter ? "offline" : "online"
    }
  }).sort((a, b) => a.address.localeCompare(b.address))
}

interface RunRecord {
  readonly logId: number | undefined
  readonly job: DevAdmin.JobSpec
  readonly executor: string | undefined
  readonly shard: string | undefined
  readonly triggeredAt: number
  finishedAt: number | undefined
  status: RunStatus
  code: number | undefined
  msg: string | undefined
}

/** How many runs the console keeps, the latest ones. */
const keptRuns = 200

/** The recent runs, recorded from the development admin's events as they happen. */
export const makeRuns = () => {
  const runs: Array<RunRecord> = []
  const byLogId = new Map<number, RunRecord>()
  const add = (run: RunRecord) => {
    runs.push(run)
    if (run.logId !== undefined) byLogId.set(run.logId, run)
    while (runs.length > keptRuns) {
      const dropped = runs.shift()!
      if (dropped.logId !== undefined) byLogId.delete(dropped.logId)
    }
  }
  return {
    record: (event: DevAdmin.Event, now: number): void => {
      switch (event._tag) {
        case "Triggered": {
          const accepted = event.reply.code === Wire.Code.success
          add({
            logId: event.logId,
            job: event.job,
            executor: event.executor,
            shard: event.shard[1] > 1 ? `${event.shard[0]}/${event.shard[1]}` : undefined,
            triggeredAt: now,
            finishedAt: accepted ? undefined : now,
            status: accepted ? "running" : "refused",
            code: accepted ? undefined : event.reply.code,
            msg: accepted ? undefined : event.reply.msg
          })
          return
        }
        case "NotTriggered":
          add({
            logId: undefined,
            job: event.job,
            executor: undefined,
            shard: undefined,
            triggeredAt: now,
            finishedAt: now,
            status: "not triggered",
            code: undefined,
            msg: event.reason
          })
          return
        case "Finished": {
          const run = byLogId.get(event.logId)
          if (run === undefined) return
          run.finishedAt = now
          run.status = resultStatus(event.code, event.msg)
          run.code = event.code
          run.msg = event.msg
        }
      }
    },
    /** Whether a run has its result (or never ran); undefined for a run not (or no longer) known. */
    isOver: (logId: number): boolean | undefined => {
      const run = byLogId.get(logId)
      return run === undefined ? undefined : run.status !== "running"
    },
    /** The runs, latest first; a running one whose executor is no longer online is lost. */
    views: (executors: ReadonlyArray<ExecutorView>): ReadonlyArray<RunView> => {
      const online = new Set(executors.filter((e) => e.status === "online").map((e) => e.address))
      // JSON's null for what a run has not (yet): the page and the API's users see every field.
      return runs.map((run): RunView => ({
        logId: run.logId ?? null,
        jobId: run.job.jobId,
        handler: run.job.handler,
        executor: run.executor ?? null,
        shard: run.shard ?? null,
        triggeredAt: run.triggeredAt,
        finishedAt: run.finishedAt ?? null,
        status: run.status === "running" && run.executor !== undefined && !online.has(run.executor)
          ? "lost"
          : run.status,
        code: run.code ?? null,
        msg: run.msg ?? null
      })).reverse()
    }
  }
}

/** The recent runs of a development admin. */
export type Runs = ReturnType<typeof makeRuns>
