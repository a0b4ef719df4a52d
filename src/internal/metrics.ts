/**
 * The executor's metrics, as Effect `Metric`s (so an OpenTelemetry metric exporter sees them too), and their
 * Prometheus text for `GET /metrics`. Names and labels follow Prometheus conventions; labels are bounded: a
 * handler is one of the registry's jobs, a result one of four words.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"

/**
 * Runs ended, by `handler` and `result` (`success`, `failure`, `timeout`, `killed`).
 *
 * @internal
 */
export const runs = Metric.counter("xxl_job_runs_total", {
  description: "Job runs ended, by handler and result (success, failure, timeout, killed).",
  incremental: true
})

/**
 * How long runs took, by `handler`.
 *
 * @internal
 */
export const runDuration = Metric.histogram(
  "xxl_job_run_duration_seconds",
  MetricBoundaries.fromIterable([0.005, 0.05, 0.25, 1, 5, 30, 120, 600, 1800, 3600]),
  "How long job runs took, in seconds, by handler."
)

/**
 * Runs going on and triggers waiting, and results the admin has not taken yet: read when scraped.
 *
 * @internal
 */
export const running = Metric.gauge("xxl_job_runs_running", { description: "Job runs going on now." })

/** @internal */
export const queued = Metric.gauge("xxl_job_triggers_queued", {
  description: "Triggers waiting behind a run of the same job."
})

/** @internal */
export const callbackBacklog = Metric.gauge("xxl_job_callback_backlog", {
  description: "Results not yet accepted by the admin."
})

/**
 * Callback requests no admin accepted (each is retried).
 *
 * @internal
 */
export const callbackFailures = Metric.counter("xxl_job_callback_failures_total", {
  description: "Callback requests that no admin accepted (they are retried).",
  incremental: true
})

/**
 * Registry beats no admin accepted.
 *
 * @internal
 */
export const registrationFailures = Metric.counter("xxl_job_registration_failures_total", {
  description: "Registry beats that no admin accepted.",
  incremental: true
})

/**
 * Bytes of job log lines written (within each run's cap).
 *
 * @internal
 */
export const logBytes = Metric.counter("xxl_job_log_bytes_total", {
  description: "Bytes of job log lines written, within each run's cap.",
  incremental: true
})

/**
 * Run log lines dropped because the store could not take them for a while (a full disk) and the bound on what
 * waits for it was reached.
 */
export const logLinesDropped = Metric.counter("xxl_job_log_lines_dropped_total", {
  description: "Run log lines dropped: the store could not take them and the bound on what waits for it was reached.",
  incremental: true
})

/** Counts dropped log lines: a plain call, for the run logs. */
export const unsafeRecordDroppedLogLines = (lines: number): void => logLinesDropped.unsafeUpdate(lines, noLabels)

/** Counts log bytes: a plain call, for the log writers. */
export const unsafeRecordLogBytes = (bytes: number): void => logBytes.unsafeUpdate(bytes, noLabels)
const noLabels: ReadonlyArray<MetricLabel.MetricLabel> = []

/**
 * Counts a run's end: plain calls, for the run's observer (no fiber there).
 *
 * @internal
 */
export const unsafeRecordRun = (handler: string, result: string, seconds: number): void => {
  runs.unsafeUpdate(1, labelsOf(handler, result))
  runDuration.unsafeUpdate(seconds, labelsOf(handler))
}

/**
 * The same label array for the same labels: Effect finds a metric's series by the array's identity (a
 * WeakMap), so a new array per update cost a key built and hashed each time (5.6 µs a run, measured).
 */
const labelArrays = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
const labelsOf = (handler: string, result?: string): ReadonlyArray<MetricLabel.MetricLabel> => {
  const key = result === undefined ? handler : `${handler}\u0000${result}`
  let labels = labelArrays.get(key)
  if (labels === undefined) {
    labels = result === undefined
      ? [MetricLabel.make("handler", handler)]
      : [MetricLabel.make("handler", handler), MetricLabel.make("result", result)]
    labelArrays.set(key, labels)
  }
  return labels
}

// ---------------------------------------------------------------------------------------------------------
// Prometheus text
// ---------------------------------------------------------------------------------------------------------

const metricName = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/^(\d)/, "_$1")
const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
const number = (value: number | bigint) =>
  typeof value === "bigint"
    ? value.toString()
    : Number.isNaN(value)
    ? "NaN"
    : value === Infinity
    ? "+Inf"
    : value === -Infinity
    ? "-Inf"
    : String(value)

const labels = (pairs: ReadonlyArray<readonly [string, string]>) =>
  pairs.length === 0
    ? ""
    : `{${pairs.map(([key, value]) => `${metricName(key)}="${escapeLabel(value)}"`).join(",")}}`

/**
 * Every metric of the process (the executor's, Effect's own, and the jobs' if they define any) in the
 * Prometheus text format, version 0.0.4.
 *
 * @internal
 */
export const prometheusText = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const byName = new Map<string, Array<MetricPair.MetricPair.Untyped>>()
  for (const pair of pairs) {
    const name = metricName(pair.metricKey.name)
    const same = byName.get(name)
    if (same === undefined) byName.set(name, [pair])
    else same.push(pair)
  }
  const out: Array<string> = []
  for (const [name, group] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
    const first = group[0]
    const help = Option.getOrUndefined(first.metricKey.description)
    const state = first.metricState
    const type = MetricState.isCounterState(state)
      ? "counter"
      : MetricState.isGaugeState(state)
      ? "gauge"
      : MetricState.isHistogramState(state)
      ? "histogram"
      : MetricState.isSummaryState(state)
      ? "summary"
      : "gauge"
    if (help !== undefined) out.push(`# HELP ${name} ${escapeHelp(help)}`)
    out.push(`# TYPE ${name} ${type}`)
    for (const pair of group) {
      const tags = pair.metricKey.tags.map((tag) => [tag.key, tag.value] as const)
      const s = pair.metricState
      if (MetricState.isCounterState(s)) out.push(`${name}${labels(tags)} ${number(s.count)}`)
      else if (MetricState.isGaugeState(s)) out.push(`${name}${labels(tags)} ${number(s.value)}`)
      else if (MetricState.isHistogramState(s)) {
        // Effect's buckets are already cumulative, [upper bound, count]; the last is +Inf.
        let sawInfinity = false
        for (const [bound, count] of s.buckets) {
          sawInfinity ||= bound === Infinity
          out.push(`${name}_bucket${labels([...tags, ["le", number(bound)]])} ${count}`)
        }
        if (!sawInfinity) out.push(`${name}_bucket${labels([...tags, ["le", "+Inf"]])} ${s.count}`)
        out.push(`${name}_sum${labels(tags)} ${number(s.sum)}`)
        out.push(`${name}_count${labels(tags)} ${s.count}`)
      } else if (MetricState.isSummaryState(s)) {
        for (const [quantile, value] of s.quantiles) {
          out.push(
            `${name}${labels([...tags, ["quantile", String(quantile)]])} ${number(Option.getOrElse(value, () => NaN))}`
          )
        }
        out.push(`${name}_sum${labels(tags)} ${number(s.sum)}`)
        out.push(`${name}_count${labels(tags)} ${s.count}`)
      } else if (MetricState.isFrequencyState(s)) {
        for (const [word, count] of s.occurrences) out.push(`${name}${labels([...tags, ["value", word]])} ${count}`)
      }
    }
  }
  return out.join("\n") + "\n"
}

/**
 * The scrape: the gauges read now from `read`, then every metric as Prometheus text.
 *
 * @internal
 */
export const scrape = (
  read: Effect.Effect<{ readonly running: number; readonly queued: number; readonly backlog: number }>
): Effect.Effect<string> =>
  Effect.gen(function*() {
    const now = yield* read
    yield* Metric.set(running, now.running)
    yield* Metric.set(queued, now.queued)
    yield* Metric.set(callbackBacklog, now.backlog)
    return prometheusText(yield* Metric.snapshot)
  })
