/**
 * The XXL-JOB wire: every request and reply body that crosses between the admin and the executor, for admin
 * 2.2 through 3.4 (and the unreleased 3.5 form). Decoding is as lenient as the Java side (Gson): numbers may
 * come as numeric strings, `null` and missing fields take Java's defaults, unknown fields are ignored.
 *
 * This module imports nothing else of ours.
 *
 * @since 1.0.0
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

// ---------------------------------------------------------------------------------------------------------
// Lenient primitives (Gson semantics)
// ---------------------------------------------------------------------------------------------------------

const NumberLike = Schema.Union(Schema.Number, Schema.NumberFromString)

/**
 * A Java `int`: a number or numeric string within the 32-bit range.
 *
 * @since 1.0.0
 * @category primitives
 */
export const JavaInt = NumberLike.pipe(
  Schema.int({ message: () => "expected an integer" }),
  Schema.between(-2147483648, 2147483647, { message: () => "expected a 32-bit integer" })
)

/**
 * A Java `long` that JavaScript can hold exactly: a number or numeric string, a safe integer.
 *
 * @since 1.0.0
 * @category primitives
 */
export const JavaLong = NumberLike.pipe(Schema.int({ message: () => "expected a safe integer" }))

/**
 * A Java `String`: Gson also turns numbers and booleans into their text.
 *
 * @since 1.0.0
 * @category primitives
 */
export const JavaString = Schema.Union(
  Schema.String,
  Schema.transform(Schema.Union(Schema.Number, Schema.Boolean), Schema.String, {
    strict: false,
    decode: (value) => String(value),
    encode: (text) => text
  })
)

/**
 * Epoch milliseconds a JavaScript `Date` can hold: trigger times name the log's day folder.
 *
 * @since 1.0.0
 * @category primitives
 */
export const EpochMillis = JavaLong.pipe(
  Schema.between(-8.64e15, 8.64e15, { message: () => "expected epoch milliseconds within the Date range" })
)

const int = (fallback = 0) => Schema.optionalWith(JavaInt, { nullable: true, default: () => fallback })
const long = (fallback = 0) => Schema.optionalWith(JavaLong, { nullable: true, default: () => fallback })
const epochMillis = Schema.optionalWith(EpochMillis, { nullable: true, default: () => 0 })
const text = (fallback = "") => Schema.optionalWith(JavaString, { nullable: true, default: () => fallback })
const optionalText = Schema.optionalWith(JavaString, { nullable: true })

// ---------------------------------------------------------------------------------------------------------
// Admin -> executor
// ---------------------------------------------------------------------------------------------------------

/**
 * The body of `POST /run` (`/trigger` in 3.5): `TriggerParam` (≤3.2) / `TriggerRequest` (3.3+).
 *
 * @since 1.0.0
 * @category models
 */
export class TriggerParam extends Schema.Class<TriggerParam>("TriggerParam")({
  jobId: int(),
  executorHandler: text(),
  executorParams: text(),
  executorBlockStrategy: text("SERIAL_EXECUTION"),
  executorTimeout: int(),
  logId: long(),
  logDateTime: epochMillis,
  /** Absent or null is answered `glueType[null] is not valid.`, as Java does. */
  glueType: optionalText,
  glueSource: text(),
  glueUpdatetime: long(),
  broadcastIndex: int(0),
  broadcastTotal: int(1)
}) {}

/**
 * The body of `POST /idleBeat` and `POST /kill`.
 *
 * @since 1.0.0
 * @category models
 */
export class JobIdParam extends Schema.Class<JobIdParam>("JobIdParam")({
  jobId: int()
}) {}

/**
 * The body of `POST /log`. Released admins spell the date `logDateTim`; 3.5 spells it `logDateTime`.
 * Both are accepted.
 *
 * @since 1.0.0
 * @category models
 */
export class LogParam extends Schema.Class<LogParam>("LogParam")({
  logDateTim: epochMillis,
  logDateTime: epochMillis,
  logId: long(),
  fromLineNum: int()
}) {
  /** The trigger time, whichever spelling the admin used. */
  get triggerTime(): number {
    return this.logDateTim !== 0 ? this.logDateTim : this.logDateTime
  }
}

/**
 * The payload of a `/log` reply (`LogResult`, 3.5 `LogData`).
 *
 * @since 1.0.0
 * @category models
 */
export class LogResult extends Schema.Class<LogResult>("LogResult")({
  fromLineNum: int(),
  toLineNum: int(),
  logContent: text(),
  isEnd: Schema.optionalWith(Schema.Boolean, { nullable: true, default: () => false })
}) {}

// ---------------------------------------------------------------------------------------------------------
// The reply envelope (both directions)
// ---------------------------------------------------------------------------------------------------------

/**
 * The codes of the protocol: 200 success, 500 failure, 502 timeout (handle codes only).
 *
 * @since 1.0.0
 * @category models
 */
export const Code = { success: 200, fail: 500, timeout: 502 } as const

/**
 * A reply as it goes on the wire. `ReturnT` (≤3.2) carries the payload in `content`, `Response` (3.3+) in
 * `data`; we always write both, so every admin finds it.
 *
 * @since 1.0.0
 * @category models
 */
export interface Reply {
  readonly code: number
  readonly msg?: string | undefined
  readonly content?: unknown
  readonly data?: unknown
}

/**
 * Builds a reply; `msg` and the payload are left out when undefined, as Gson drops nulls.
 *
 * @since 1.0.0
 * @category constructors
 */
export const reply = (code: number, msg?: string, payload?: unknown): Reply => {
  if (payload === undefined) return msg === undefined ? { code } : { code, msg }
  return msg === undefined ? { code, content: payload, data: payload } : { code, msg, content: payload, data: payload }
}

/**
 * The success reply of the 3.2+ executor: `{"code":200,"msg":"Success"}`.
 *
 * @since 1.0.0
 * @category constructors
 */
export const success = (payload?: unknown): Reply => reply(Code.success, "Success", payload)

/**
 * A failure reply: `{"code":500,"msg":...}`.
 *
 * @since 1.0.0
 * @category constructors
 */
export const failure = (msg: string): Reply => reply(Code.fail, msg)

/**
 * An admin's reply to the executor, as read back: only `code` matters, `msg` explains a failure.
 *
 * @since 1.0.0
 * @category models
 */
export class AdminReply extends Schema.Class<AdminReply>("AdminReply")({
  code: int(),
  msg: optionalText,
  content: Schema.optional(Schema.Unknown),
  data: Schema.optional(Schema.Unknown)
}) {}

// ---------------------------------------------------------------------------------------------------------
// Executor -> admin
// ---------------------------------------------------------------------------------------------------------

/**
 * The body of `api/registry` and `api/registryRemove`.
 *
 * @since 1.0.0
 * @category models
 */
export class RegistryParam extends Schema.Class<RegistryParam>("RegistryParam")({
  registryGroup: text("EXECUTOR"),
  registryKey: text(),
  registryValue: text()
}) {}

/**
 * One finished run, as reported to `api/callback`.
 *
 * @since 1.0.0
 * @category models
 */
export class CallbackItem extends Schema.Class<CallbackItem>("CallbackItem")({
  logId: long(),
  logDateTim: epochMillis,
  handleCode: int(),
  handleMsg: optionalText
}) {}

/**
 * Which form of the wire the executor speaks: `"classic"` serves admin 2.2 through 3.4; `"3.5"` is the
 * unreleased 3.5 form (`/trigger`, the `XXL-JOB-APPNAME` header, `{"callbackList":[...]}`).
 *
 * @since 1.0.0
 * @category models
 */
export type Protocol = "classic" | "3.5"

/**
 * Encodes one callback item for the wire. The classic form carries the result twice: `handleCode`/`handleMsg`
 * for admin 2.3+ and `executeResult` for admin 2.2, each admin reading the one it knows.
 *
 * @since 1.0.0
 * @category encoding
 */
export const encodeCallbackItem = (item: CallbackItem, protocol: Protocol): Record<string, unknown> => {
  if (protocol === "3.5") {
    return item.handleMsg === undefined
      ? { logId: item.logId, logDateTime: item.logDateTim, handleCode: item.handleCode }
      : { logId: item.logId, logDateTime: item.logDateTim, handleCode: item.handleCode, handleMsg: item.handleMsg }
  }
  const executeResult = item.handleMsg === undefined
    ? { code: item.handleCode }
    : { code: item.handleCode, msg: item.handleMsg }
  return item.handleMsg === undefined
    ? { logId: item.logId, logDateTim: item.logDateTim, handleCode: item.handleCode, executeResult }
    : {
      logId: item.logId,
      logDateTim: item.logDateTim,
      handleCode: item.handleCode,
      handleMsg: item.handleMsg,
      executeResult
    }
}

/**
 * The body of `api/callback`: a JSON array (released admins) or `{"callbackList":[...]}` (3.5).
 *
 * @since 1.0.0
 * @category encoding
 */
export const encodeCallbackBody = (items: ReadonlyArray<CallbackItem>, protocol: Protocol): unknown => {
  const list = items.map((item) => encodeCallbackItem(item, protocol))
  return protocol === "3.5" ? { callbackList: list } : list
}

/**
 * `encodeCallbackBody` as JSON text, written out directly: the body of every callback request, where the two
 * objects per result that `JSON.stringify(encodeCallbackBody(…))` needs showed in the profile under load.
 * The same text (`test/wire.test.ts` holds them alike).
 *
 * @since 1.0.0
 * @category encoding
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
 * Reads a callback item in any of its forms (2.2 `executeResult`, 2.3+ `handleCode`, 3.5 `logDateTime`), for
 * the mock admin.
 *
 * @since 1.0.0
 * @category decoding
 */
export const CallbackItemFromWire = Schema.transform(
  Schema.Struct({
    logId: long(),
    logDateTim: Schema.optionalWith(JavaLong, { nullable: true }),
    logDateTime: Schema.optionalWith(JavaLong, { nullable: true }),
    handleCode: Schema.optionalWith(JavaInt, { nullable: true }),
    handleMsg: optionalText,
    executeResult: Schema.optionalWith(
      Schema.Struct({ code: int(), msg: optionalText }),
      { nullable: true }
    )
  }),
  CallbackItem,
  {
    strict: false,
    decode: (wire) => ({
      logId: wire.logId,
      logDateTim: wire.logDateTim ?? wire.logDateTime ?? 0,
      handleCode: wire.handleCode ?? wire.executeResult?.code ?? 0,
      handleMsg: wire.handleMsg ?? wire.executeResult?.msg
    }),
    encode: (item) => ({ ...item })
  }
)

/**
 * A callback body in either form.
 *
 * @since 1.0.0
 * @category decoding
 */
export const CallbackBody = Schema.Union(
  Schema.Array(CallbackItemFromWire),
  Schema.transform(Schema.Struct({ callbackList: Schema.Array(CallbackItemFromWire) }), Schema.Array(CallbackItem), {
    strict: false,
    decode: (body) => body.callbackList,
    encode: (list) => ({ callbackList: list })
  })
)

/**
 * A decoding failure in one line, `field: problem; other.field: problem`, one problem per field (a lenient
 * field tries several forms; the first one's complaint is the useful one).
 *
 * @since 1.0.0
 * @category decoding
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
 * An instance of a Schema class from fields already checked, as `new Class(fields, true)` makes it, for the
 * hot path (a trigger and its result each make one). The constructor, with validation off, still copies the
 * fields twice and walks every field of the class for defaults (measured: about 3% of the event loop under
 * load); an instance is the class's prototype with the fields on it. Only for classes without defaults
 * (`test/wire.test.ts` holds the two alike).
 *
 * @since 1.0.0
 * @category constructors
 */
export const unsafeInstance = <C extends new(fields: any, options?: boolean) => object>(
  Class: C,
  fields: ConstructorParameters<C>[0]
): InstanceType<C> => Object.assign(Object.create(Class.prototype), fields)

/**
 * Decodes a `/run` body (already parsed JSON). What admins send (plain numbers and strings) takes a fast path
 * that checks each field's type by hand; anything else (numeric strings, wrong types) goes through the Schema,
 * which accepts what Gson accepts and explains what it refuses. Both give the same `TriggerParam`.
 *
 * @since 1.0.0
 * @category decoding
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
        unsafeInstance(TriggerParam, {
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
