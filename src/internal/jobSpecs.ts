/**
 * The development admin's jobs as data (the JSON file of `effect-xxl-job admin --jobs-file`): each job's
 * shape checked with a Schema, a key it does not know refused with the nearest known one, and the first
 * problem told on one line naming the job, so a typo stops the start instead of making a job that never
 * fires.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as DevAdmin from "../DevAdmin.js"
import { nearestName } from "./nearestName.js"

const routes = ["FIRST", "LAST", "ROUND", "SHARDING_BROADCAST", "FAILOVER", "BUSYOVER"] as const
const blockStrategies = ["SERIAL_EXECUTION", "DISCARD_LATER", "COVER_EARLY"] as const

/** The value a problem is about, shortened: a whole file would not fit on one line. */
const actualOf = (issue: ParseResult.ParseIssue): string => {
  if (!("actual" in issue)) return ""
  const text = JSON.stringify(issue.actual) ?? String(issue.actual)
  return ` got ${text.length > 60 ? `${text.slice(0, 57)}…` : text}`
}

/** A value's schema whose every problem reads "must be {what}, got {the value}". */
const mustBe = <S extends Schema.Schema.Any>(schema: S, what: string): S =>
  schema.annotations({ message: (issue) => ({ message: `must be ${what},${actualOf(issue)}`, override: true }) }) as S

/** A container's schema: "must be {what}, got {the value}" when it is not one; its parts tell their own. */
const mustHold = <S extends Schema.Schema.Any>(schema: S, what: string): S =>
  schema.annotations({ message: (issue) => `must be ${what},${actualOf(issue)}` }) as S

const oneOf = <const Names extends ReadonlyArray<string>>(names: Names) =>
  mustBe(Schema.Literal(...names), `one of ${names.join(", ")}`)

const scheduleFields = {
  cron: Schema.optionalWith(
    mustBe(Schema.String.pipe(Schema.pattern(/\S/)), "a Quartz cron expression (text), e.g. \"0 0/5 * * * ?\""),
    {
      exact: true
    }
  ),
  everySeconds: Schema.optionalWith(mustBe(Schema.Number.pipe(Schema.positive()), "a number of seconds above 0"), {
    exact: true
  })
}

const ScheduleSpec = mustHold(Schema.Struct(scheduleFields), "an object: {\"cron\": \"…\"} or {\"everySeconds\": 10}")
  .pipe(
    Schema.filter((schedule) =>
      (schedule.cron === undefined) !== (schedule.everySeconds === undefined) ||
      `must have either "cron" or "everySeconds"${schedule.cron === undefined ? "" : ", not both"}`
    )
  )

const jobFields = {
  jobId: mustBe(Schema.Int, "an integer"),
  handler: mustBe(Schema.String.pipe(Schema.nonEmptyString()), "the handler's name (non-empty text)"),
  params: Schema.optionalWith(mustBe(Schema.String, "text"), { exact: true }),
  schedule: Schema.optionalWith(ScheduleSpec, { exact: true }),
  route: Schema.optionalWith(oneOf(routes), { exact: true }),
  blockStrategy: Schema.optionalWith(oneOf(blockStrategies), { exact: true }),
  timeoutSeconds: Schema.optionalWith(mustBe(Schema.Int.pipe(Schema.nonNegative()), "an integer of 0 or more"), {
    exact: true
  })
}

const JobSpecs = mustHold(
  Schema.Array(mustHold(Schema.Struct(jobFields), "an object: {\"jobId\": 1, \"handler\": \"…\", …}")),
  "a JSON array of jobs: [{\"jobId\": 1, \"handler\": \"…\", \"schedule\": {\"everySeconds\": 10}}]"
)

/** A job as the user would find it in the file: by its jobId and handler, else by its place. */
const jobName = (value: unknown, index: number): string => {
  const job = value as { jobId?: unknown; handler?: unknown } | null
  return typeof job?.jobId === "number"
    ? `job ${job.jobId}${typeof job.handler === "string" && job.handler !== "" ? ` (${job.handler})` : ""}`
    : `the job at index ${index}`
}

/** One problem on one line: the job (when the path starts at one), where in it, then what. */
const describe = (input: unknown, issue: ParseResult.ArrayFormatterIssue): string => {
  const [first, ...rest] = issue.path
  const atJob = typeof first === "number"
  const where = atJob ? `${jobName((input as ReadonlyArray<unknown>)[first], first)}: ` : ""
  const path = (atJob ? rest : issue.path).map(String)
  const field = path.join(".")
  switch (issue._tag) {
    case "Unexpected": {
      const key = path[path.length - 1]
      const parent = path.slice(0, -1).join(".")
      const known = Object.keys(parent === "schedule" ? scheduleFields : jobFields)
      const nearest = nearestName(key, known)
      return `${where}unknown key "${key}"${parent === "" ? "" : ` in ${parent}`} (${
        nearest === undefined ? `known: ${known.join(", ")}` : `did you mean "${nearest}"?`
      })`
    }
    case "Missing":
      return `${where}"${field}" is missing`
    default:
      return `${where}${field === "" ? "" : `${field} `}${issue.message}`
  }
}

const strict = { onExcessProperty: "error", errors: "first" } as const

const firstProblem = (input: unknown) => (error: ParseResult.ParseError) =>
  describe(input, ParseResult.ArrayFormatter.formatErrorSync(error)[0])

/**
 * The jobs of a JSON value, or its first problem on one line (e.g. `job 1 (hello): unknown key "everySecond"
 * in schedule (did you mean "everySeconds"?)`).
 *
 * @internal
 */
export const decodeJobSpecs = (input: unknown): Either.Either<ReadonlyArray<DevAdmin.JobSpec>, string> =>
  Either.mapLeft(
    // The schedule's filter leaves exactly one of `cron` and `everySeconds`: a `DevAdmin.Schedule`.
    Schema.decodeUnknownEither(JobSpecs)(input, strict) as Either.Either<
      ReadonlyArray<DevAdmin.JobSpec>,
      ParseResult.ParseError
    >,
    firstProblem(input)
  )

const WithSchedule = Schema.Struct({ schedule: ScheduleSpec })

/**
 * What is wrong with the shape of a schedule, if anything (`undefined` is a manual job's): an unknown key,
 * neither or both of `cron` and `everySeconds`, a value of the wrong kind.
 *
 * @internal
 */
export const scheduleProblem = (schedule: unknown): string | undefined => {
  if (schedule === undefined) return undefined
  const decoded = Schema.decodeUnknownEither(WithSchedule)({ schedule }, strict)
  return Either.isLeft(decoded) ? firstProblem({ schedule })(decoded.left) : undefined
}
