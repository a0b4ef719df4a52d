/**
 * The XXL-JOB wire: every request and reply body that crosses between the admin and the executor, for admin
 * 2.2 through 3.4 (and the unreleased 3.5 form). Decoding is as lenient as the Java side (Gson): numbers may
 * come as numeric strings, `null` and missing fields take Java's defaults, unknown fields are ignored.
 *
 * For protocol-level tests: decode what an executor answers, build what an admin sends. (The executor itself
 * decodes `/run` and encodes callbacks with hand-written fast paths, held equal to these Schemas by tests.)
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Wire } from "effect-xxl-job"
 *
 * const trigger = Schema.decodeUnknownSync(Wire.TriggerParam)({ jobId: "7", executorHandler: "hello", logId: 1 })
 * // trigger.jobId === 7, trigger.executorBlockStrategy === "SERIAL_EXECUTION", trigger.broadcastTotal === 1
 * ```
 *
 * This module imports nothing else of ours.
 *
 * @since 1.0.0
 */
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
