/**
 * Traces and metrics to an OTLP/HTTP endpoint, switched on by the standard OpenTelemetry variables, for
 * executors configured from the environment (`Executor.layerFromEnv`). In code, provide any tracer or metric
 * exporter layer instead.
 *
 * - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `…_METRICS_ENDPOINT` (full URLs), or `OTEL_EXPORTER_OTLP_ENDPOINT`
 *   (+ `/v1/traces`, `/v1/metrics`);
 * - `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,key=value`), `OTEL_SERVICE_NAME` (else the AppName);
 * - `OTEL_SDK_DISABLED=true` turns both off, `OTEL_TRACES_EXPORTER=none` / `OTEL_METRICS_EXPORTER=none` one.
 *
 * They go as OTLP JSON through `@effect/opentelemetry`'s exporters (no OpenTelemetry SDK needed); that
 * package is loaded only when one is on.
 *
 * @internal
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { ExecutorConfig } from "../ExecutorConfig.js"

const optional = (name: string) =>
  Config.option(Config.string(name)).pipe(
    Effect.map(Option.filter((value) => value.trim() !== "")),
    Effect.map(Option.map((value) => value.trim())),
    Effect.orElseSucceed(() => Option.none<string>())
  )

/** `key=value,key=value` (values URL-encoded, as the specification says). */
const parseHeaders = (text: string): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const pair of text.split(",")) {
    const at = pair.indexOf("=")
    if (at <= 0) continue
    headers[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim())
  }
  return headers
}

const endpointFor = (signal: "TRACES" | "METRICS", path: string): Effect.Effect<Option.Option<string>> =>
  Effect.gen(function*() {
    const disabled = yield* optional("OTEL_SDK_DISABLED")
    const exporter = yield* optional(`OTEL_${signal}_EXPORTER`)
    if (Option.getOrUndefined(disabled)?.toLowerCase() === "true") return Option.none()
    if (Option.getOrUndefined(exporter)?.toLowerCase() === "none") return Option.none()
    const own = yield* optional(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`)
    if (Option.isSome(own)) return own
    const base = yield* optional("OTEL_EXPORTER_OTLP_ENDPOINT")
    return Option.map(base, (url) => `${url.replace(/\/+$/, "")}${path}`)
  })

/**
 * Where the variables say traces go, or none.
 *
 * @internal
 */
export const tracesEndpointFromEnv: Effect.Effect<Option.Option<string>> = endpointFor("TRACES", "/v1/traces")

/**
 * Where the variables say metrics go, or none.
 *
 * @internal
 */
export const metricsEndpointFromEnv: Effect.Effect<Option.Option<string>> = endpointFor("METRICS", "/v1/metrics")

/**
 * The OTLP exporters the variables ask for; nothing when they ask for none.
 *
 * @internal
 */
export const layerFromEnv: Layer.Layer<never, never, ExecutorConfig> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const traces = yield* tracesEndpointFromEnv
    const metrics = yield* metricsEndpointFromEnv
    if (Option.isNone(traces) && Option.isNone(metrics)) return Layer.empty
    const settings = yield* ExecutorConfig
    const serviceName = Option.getOrElse(
      yield* optional("OTEL_SERVICE_NAME"),
      () => settings.appName === "" ? "effect-xxl-job" : settings.appName
    )
    const headers = Option.getOrUndefined(Option.map(yield* optional("OTEL_EXPORTER_OTLP_HEADERS"), parseHeaders))
    const resource = { serviceName }
    const OtlpTracer = yield* Effect.promise(() => import("@effect/opentelemetry/OtlpTracer"))
    const OtlpMetrics = yield* Effect.promise(() => import("@effect/opentelemetry/OtlpMetrics"))
    const OtlpSerialization = yield* Effect.promise(() => import("@effect/opentelemetry/OtlpSerialization"))
    const exporters: Array<Layer.Layer<never, never, any>> = []
    if (Option.isSome(traces)) {
      yield* Effect.logInfo(`traces go to ${traces.value} as service "${serviceName}"`)
      exporters.push(OtlpTracer.layer({ url: traces.value, resource, headers }))
    }
    if (Option.isSome(metrics)) {
      yield* Effect.logInfo(`metrics go to ${metrics.value} as service "${serviceName}"`)
      exporters.push(OtlpMetrics.layer({ url: metrics.value, resource, headers }))
    }
    return Layer.mergeAll(Layer.empty, ...exporters).pipe(
      Layer.provide(Layer.merge(NodeHttpClient.layerUndici, OtlpSerialization.layerJson))
    ) as Layer.Layer<never>
  })
)
