/**
 * The development admin's console, its HTTP side: the page at `{contextPath}/console/` and the JSON API it
 * (and tests) use under `{contextPath}/console/api/`:
 *
 * - `GET state`: the jobs, the executors and the recent runs; `GET events`: the same as Server-Sent Events,
 *   sent again whenever it changes.
 * - `GET runs/{logId}/log?fromLineNum=n`: a page of a run's log from its executor, as the admin's log view
 *   reads it; `isEnd` once the run has its result and no lines are left.
 * - `POST jobs/{jobId}/run` (body `{"params":"…"}`, optional), `kill`, `pause`, `resume`.
 *
 * @internal
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as DevAdmin from "../../DevAdmin.js"
import type * as MockAdmin from "../../MockAdmin.js"
import { page } from "./page.js"
import { executorViews, type Runs } from "./runs.js"

/** What the console shows and acts on: the development admin's parts. */
export interface Source {
  readonly admin: MockAdmin.Service
  readonly jobs: ReadonlyArray<DevAdmin.JobSpec>
  readonly runs: Runs
  /** The jobs whose schedule is paused (manual runs still go). */
  readonly paused: Set<number>
  readonly trigger: (
    jobId: number,
    params: string | undefined
  ) => Effect.Effect<ReadonlyArray<MockAdmin.Triggered>, DevAdmin.DevAdminError>
}

/** How often the events stream looks for a change (a run's result, a beat, an executor going offline). */
const eventsEvery = Duration.millis(250)

const scheduleText = (schedule: DevAdmin.Schedule): string =>
  schedule === undefined ? "manual" : "cron" in schedule ? `cron ${schedule.cron}` : `every ${schedule.everySeconds} s`

/**
 * Everything the page lists. Times are the wall clock's (epoch ms), as the registrations are stamped: the
 * page shows them, and counts a running run's duration, against its own clock.
 */
const state = (source: Source) =>
  Effect.map(source.admin.registrations, (registrations) => {
    const executors = executorViews(registrations, Date.now())
    return {
      jobs: source.jobs.map((job) => ({
        jobId: job.jobId,
        handler: job.handler,
        params: job.params ?? "",
        schedule: scheduleText(job.schedule),
        route: job.route ?? "FIRST",
        blockStrategy: job.blockStrategy ?? "SERIAL_EXECUTION",
        timeoutSeconds: job.timeoutSeconds ?? 0,
        paused: source.paused.has(job.jobId)
      })),
      executors,
      runs: source.runs.views(executors)
    }
  })

const json = (body: unknown, status = 200) => HttpServerResponse.unsafeJson(body, { status })
const problem = (status: number, error: string) => json({ error }, status)

/** The body of a run-once request: `{"params": "…"}`, or nothing for the declared params. */
const runParams = (text: string): { readonly params: string | undefined } | string => {
  if (text.trim() === "") return { params: undefined }
  try {
    const body = JSON.parse(text) as unknown
    if (typeof body === "object" && body !== null && !Array.isArray(body)) {
      const params = (body as { params?: unknown }).params
      if (params === undefined || params === null) return { params: undefined }
      if (typeof params === "string") return { params }
    }
  } catch {
    // told below
  }
  return "the body must be JSON like {\"params\":\"…\"} (params a string; leave it out for the job's own params)"
}

/** Answers a request under `{base}/api/`, once the development admin is up. */
const api = (source: Source, request: HttpServerRequest.HttpServerRequest, path: string, search: URLSearchParams) =>
  Effect.gen(function*() {
    if (path === "state" || path === "events") {
      if (request.method !== "GET") return problem(405, `use GET for ${path}`)
      if (path === "state") return json(yield* state(source))
      const frames = Stream.tick(eventsEvery).pipe(
        Stream.mapEffect(() => Effect.map(state(source), (body) => JSON.stringify(body))),
        Stream.changes,
        Stream.map((body) => `data: ${body}\n\n`),
        Stream.encodeText
      )
      return HttpServerResponse.stream(frames, {
        contentType: "text/event-stream",
        headers: { "cache-control": "no-cache" }
      })
    }
    const log = /^runs\/(\d+)\/log$/.exec(path)
    if (log !== null) {
      if (request.method !== "GET") return problem(405, "use GET for a run's log")
      const logId = Number(log[1])
      const fromLineNum = Number(search.get("fromLineNum") ?? "1")
      if (!Number.isSafeInteger(fromLineNum) || fromLineNum < 1) {
        return problem(400, `fromLineNum must be a line number from 1, got ${search.get("fromLineNum")}`)
      }
      return yield* source.admin.log(logId, fromLineNum).pipe(
        Effect.map((result) =>
          json({
            fromLineNum: result.fromLineNum,
            toLineNum: result.toLineNum,
            logContent: result.logContent,
            // As the admin decides it: the run has its result and no lines are left to read.
            isEnd: source.runs.isOver(logId) !== false && result.toLineNum < result.fromLineNum
          })
        ),
        Effect.catchAll((error) =>
          Effect.succeed(problem(502, `cannot read the log of run ${logId}: ${error.message}`))
        )
      )
    }
    const action = /^jobs\/(\d+)\/(run|kill|pause|resume)$/.exec(path)
    if (action === null) return problem(404, `no console API at ${path}`)
    if (request.method !== "POST") return problem(405, `use POST for ${action[2]}`)
    const jobId = Number(action[1])
    if (!source.jobs.some((job) => job.jobId === jobId)) return problem(404, `no job ${jobId} is declared`)
    switch (action[2]) {
      case "run": {
        const body = runParams(yield* Effect.orElseSucceed(request.text, () => ""))
        if (typeof body === "string") return problem(400, body)
        const sent = yield* Effect.orDie(source.trigger(jobId, body.params))
        return json({
          triggered: sent.map((triggered) => ({
            logId: triggered.logId,
            executor: triggered.executor,
            code: triggered.reply.code,
            msg: triggered.reply.msg
          }))
        })
      }
      case "kill": {
        const executors = yield* source.admin.executors
        const replies = yield* Effect.forEach(executors, (executor) =>
          source.admin.kill(jobId, executor).pipe(
            Effect.map((reply) => ({ executor, code: reply.code, msg: reply.msg })),
            Effect.catchAll((error) => Effect.succeed({ executor, code: 500, msg: error.message }))
          ))
        return json({ replies })
      }
      case "pause":
        source.paused.add(jobId)
        return json({ jobId, paused: true })
      default:
        source.paused.delete(jobId)
        return json({ jobId, paused: false })
    }
  })

/**
 * The console's routes, for `MockAdmin.serve`'s `routes`: the requests under `{contextPath}/console`, once
 * `source` gives the development admin (it is up as soon as its server is); the others go to the admin API.
 */
export const routes =
  (source: () => Source | undefined) =>
  (request: HttpServerRequest.HttpServerRequest): Effect.Effect<HttpServerResponse.HttpServerResponse> | undefined => {
    const current = source()
    if (current === undefined || current.admin.url === undefined) return undefined
    const base = `${new URL(current.admin.url).pathname}/console`
    const url = new URL(request.url, "http://console.invalid")
    if (url.pathname === base) return Effect.succeed(HttpServerResponse.redirect(`${base}/`, { status: 302 }))
    if (!url.pathname.startsWith(`${base}/`)) return undefined
    const rest = url.pathname.slice(base.length + 1)
    if (rest === "") {
      return Effect.succeed(
        HttpServerResponse.html(page).pipe(HttpServerResponse.setHeader("cache-control", "no-cache"))
      )
    }
    if (!rest.startsWith("api/")) return Effect.succeed(problem(404, `no console page at ${url.pathname}`))
    return api(current, request, rest.slice("api/".length), url.searchParams).pipe(
      Effect.provideService(HttpServerRequest.HttpServerRequest, request),
      // The server runs handlers uninterruptibly: the executor calls' timeouts need to be able to interrupt.
      Effect.interruptible,
      Effect.catchAllCause((cause) => Effect.succeed(problem(500, `the console failed: ${cause}`)))
    )
  }
