/**
 * The executor's own log lines in the format the settings name (`XXL_JOB_EXECUTOR_LOG_FORMAT`).
 *
 * @internal
 */
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"

/**
 * Effect's loggers for `format`. `Logger.json` replaces Effect's default logger; under `NodeRuntime.runMain`
 * that is already the pretty one, which goes too (else every line came out twice).
 *
 * @internal
 */
export const layer = (format: "text" | "logfmt" | "json"): Layer.Layer<never> =>
  format === "text"
    ? Layer.empty
    : Layer.merge(format === "json" ? Logger.json : Logger.logFmt, Logger.remove(Logger.prettyLoggerDefault))
