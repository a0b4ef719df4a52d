/**
 * The wire's hot paths, written by hand: decoding a `/run` body and encoding a callback body are done for every
 * trigger, and the Schemas (`Wire`) cost several times more there. Each gives exactly what its Schema gives
 * (`test/wire.test.ts` holds them alike, on typical and untypical input).
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { type CallbackItem, type Protocol, TriggerParam } from "../Wire.js"

/**
 * `encodeCallbackBody` as JSON text, written out directly: the body of every callback request, where the two
 * objects per result that `JSON.stringify(encodeCallbackBody(…))` needs showed in the profile under load.
 * The same text (`test/wire.test.ts` holds them alike).
 *
 * @internal
 */
export const encodeCallbackJson = (items: ReadonlyArray<CallbackItem>, protocol: Protocol): string => {
  const dateKey = protocol === "3.5" ? "logDateTime" : "logDateTim"
  let list = ""
  for (const { handleCode, handleMsg, logDateTim, logId } of items) {
    const msg = handleMsg === undefined ? undefined : JSON.stringify(handleMsg)
    const fields = `"logId":${logId},"${dateKey}":${logDateTim},"handleCode":${handleCode}${
      msg === undefined ? "" : `,"handleMsg":${msg}`
    }`
    const item = protocol === "3.5"
      ? `{${fields}}`
      : `{${fields},"executeResult":{"code":${handleCode}${msg === undefined ? "" : `,"msg":${msg}`}}}`
    list = list === "" ? item : `${list},${item}`
  }
  return protocol === "3.5" ? `{"callbackList":[${list}]}` : `[${list}]`
}

/**
 * A decoding failure in one line, `field: problem; other.field: problem`, one problem per field (a lenient
 * field tries several forms; the first one's complaint is the useful one).
 *
 * @internal
 */
export const describeParseError = (error: ParseResult.ParseError): string => {
  const problems = new Map<string, string>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const path = issue.path.map(String).join(".")
    if (!problems.has(path)) problems.set(path, issue.message)
  }
  return [...problems].map(([path, message]) => path === "" ? message : `${path}: ${message}`).join("; ")
}

const isInt32 = (value: unknown): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= -2147483648 && value <= 2147483647
const isSafeInt = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value)
const isDate = (value: unknown): value is number => isSafeInt(value) && value >= -8.64e15 && value <= 8.64e15
const absent = (value: unknown): value is null | undefined => value === undefined || value === null
const intOr = (value: unknown, fallback: number) => absent(value) ? fallback : value as number
const textOr = (value: unknown, fallback: string) => absent(value) ? fallback : value as string

const decodeTriggerSchema = Schema.decodeUnknownEither(TriggerParam)

/**
 * An instance of a Schema class from every one of its fields, already checked, as `new Class(fields, true)`
 * makes it, for the hot path (a trigger and its result each make one). The constructor, with validation off,
 * still copies the fields twice and walks every field of the class for defaults (measured: about 3% of the
 * event loop under load); an instance is the class's prototype with the fields on it. No default is applied:
 * give every field (`test/wire.test.ts` holds the two alike).
 *
 * @internal
 */
export const trustedInstance = <C extends new(fields: any, options?: boolean) => object>(
  Class: C,
  fields: ConstructorParameters<C>[0]
): InstanceType<C> => Object.assign(Object.create(Class.prototype), fields)

/**
 * Decodes a `/run` body (already parsed JSON). What admins send (plain numbers and strings) takes a fast path
 * that checks each field's type by hand; anything else (numeric strings, wrong types) goes through the Schema,
 * which accepts what Gson accepts and explains what it refuses. Both give the same `TriggerParam`.
 *
 * @internal
 */
export const decodeTrigger = (json: unknown): Either.Either<TriggerParam, string> => {
  if (typeof json === "object" && json !== null && !Array.isArray(json)) {
    const o = json as Record<string, unknown>
    const typical = (absent(o.jobId) || isInt32(o.jobId)) &&
      (absent(o.executorHandler) || typeof o.executorHandler === "string") &&
      (absent(o.executorParams) || typeof o.executorParams === "string") &&
      (absent(o.executorBlockStrategy) || typeof o.executorBlockStrategy === "string") &&
      (absent(o.executorTimeout) || isInt32(o.executorTimeout)) &&
      (absent(o.logId) || isSafeInt(o.logId)) &&
      (absent(o.logDateTime) || isDate(o.logDateTime)) &&
      (absent(o.glueType) || typeof o.glueType === "string") &&
      (absent(o.glueSource) || typeof o.glueSource === "string") &&
      (absent(o.glueUpdatetime) || isSafeInt(o.glueUpdatetime)) &&
      (absent(o.broadcastIndex) || isInt32(o.broadcastIndex)) &&
      (absent(o.broadcastTotal) || isInt32(o.broadcastTotal))
    if (typical) {
      return Either.right(
        trustedInstance(TriggerParam, {
          jobId: intOr(o.jobId, 0),
          executorHandler: textOr(o.executorHandler, ""),
          executorParams: textOr(o.executorParams, ""),
          executorBlockStrategy: textOr(o.executorBlockStrategy, "SERIAL_EXECUTION"),
          executorTimeout: intOr(o.executorTimeout, 0),
          logId: intOr(o.logId, 0),
          logDateTime: intOr(o.logDateTime, 0),
          ...(absent(o.glueType) ? {} : { glueType: o.glueType as string }),
          glueSource: textOr(o.glueSource, ""),
          glueUpdatetime: intOr(o.glueUpdatetime, 0),
          broadcastIndex: intOr(o.broadcastIndex, 0),
          broadcastTotal: intOr(o.broadcastTotal, 1)
        })
      )
    }
  }
  return Either.mapLeft(decodeTriggerSchema(json), describeParseError)
}
