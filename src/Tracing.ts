/**
 * Traces to an OTLP/HTTP endpoint, switched on by the standard OpenTelemetry variables, for executors
 * configured from the environment (`Executor.layerFromEnv`). In code, provide any tracer layer instead.
 *
 * - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL), or `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `/v1/traces`);
 * - `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,key=value`), `OTEL_SERVICE_NAME` (else the AppName);
 * - `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn it off.
 *
 * Spans go as OTLP JSON through `@effect/opentelemetry`'s exporter (no OpenTelemetry SDK needed); that
 * package is loaded only when tracing is on.
 *
 * @since 1.0.0
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { ExecutorConfig } from "./ExecutorConfig.js"

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

/**
 * Where the variables say traces go, or none.
 *
 * @since 1.0.0
 * @category config
 */
export const endpointFromEnv: Effect.Effect<Option.Option<string>> = Effect.gen(function*() {
  const disabled = yield* optional("OTEL_SDK_DISABLED")
  const exporter = yield* optional("OTEL_TRACES_EXPORTER")
  if (Option.getOrUndefined(disabled)?.toLowerCase() === "true") return Option.none()
  if (Option.getOrUndefined(exporter)?.toLowerCase() === "none") return Option.none()
  const traces = yield* optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
  if (Option.isSome(traces)) return traces
  const base = yield* optional("OTEL_EXPORTER_OTLP_ENDPOINT")
  return Option.map(base, (url) => `${url.replace(/\/+$/, "")}/v1/traces`)
})

/**
 * The OTLP tracer the variables ask for; nothing when they ask for none.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerFromEnv: Layer.Layer<never, never, ExecutorConfig> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const endpoint = yield* endpointFromEnv
    if (Option.isNone(endpoint)) return Layer.empty
    const settings = yield* ExecutorConfig
    const serviceName = Option.getOrElse(
      yield* optional("OTEL_SERVICE_NAME"),
      () => settings.appName === "" ? "effect-xxl-job" : settings.appName
    )
    const headers = Option.map(yield* optional("OTEL_EXPORTER_OTLP_HEADERS"), parseHeaders)
    const { layer } = yield* Effect.promise(() => import("@effect/opentelemetry/OtlpTracer"))
    const { layerJson } = yield* Effect.promise(() => import("@effect/opentelemetry/OtlpSerialization"))
    yield* Effect.logInfo(`traces go to ${endpoint.value} as service "${serviceName}"`)
    return layer({
      url: endpoint.value,
      resource: { serviceName },
      headers: Option.getOrUndefined(headers)
    }).pipe(Layer.provide(Layer.merge(NodeHttpClient.layerUndici, layerJson)))
  })
)
