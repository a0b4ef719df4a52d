/**
 * The texts the admin shows its users, exactly as the Java executor writes them (xxl-job-core 3.4.2), in one
 * place. Where we add a case Java does not have, the text says plainly what happened.
 *
 * @since 1.0.0
 */

/** @since 1.0.0 */
export const methodNotSupported = "invalid request, HttpMethod not support."
/** @since 1.0.0 */
export const uriMappingEmpty = "invalid request, uri-mapping empty."
/** @since 1.0.0 */
export const uriMappingNotFound = (uri: string) => `invalid request, uri-mapping(${uri}) not found.`
/** @since 1.0.0 */
export const accessTokenWrong = "The access token is wrong."
/** 3.5: the `XXL-JOB-APPNAME` header or the token is missing. @since 1.0.0 */
export const tokenOrAppnameEmpty = "invalid request, accessToken or appname is empty."
/** 3.5: the `XXL-JOB-APPNAME` header or the token does not match. @since 1.0.0 */
export const tokenOrAppnameInvalid = "invalid request, accessToken or appname invalid."
/** The prefix Java puts before any exception while it reads a request. @since 1.0.0 */
export const requestError = (detail: string) => `request error:${detail}`
/** @since 1.0.0 */
export const bodyTooLarge = (limit: number) => requestError(`request body is larger than the limit of ${limit} bytes.`)

/** @since 1.0.0 */
export const bodyTooSlow = (limit: string) => requestError(`the request body did not arrive within ${limit}.`)

/** @since 1.0.0 */
export const jobBusy = "job thread is running or has trigger queue."
/** @since 1.0.0 */
export const jobHandlerNotFound = (name: string) => `job handler [${name}] not found.`
/** @since 1.0.0 */
export const glueTypeNotValid = (glueType: string | undefined) => `glueType[${glueType ?? "null"}] is not valid.`
/** Ours: a GLUE script job while scripts are off (the default). @since 1.0.0 */
export const glueTypeNotEnabled = (glueType: string) =>
  `glueType[${glueType}] is not enabled on this executor (GLUE scripts are off; XXL_JOB_EXECUTOR_GLUE_SCRIPTS=on turns them on).`
/** Ours: Groovy jobs are compiled into the JVM; Node has none. @since 1.0.0 */
export const glueGroovyNotSupported =
  "glueType[GLUE_GROOVY] is not supported by this executor (Groovy jobs need a JVM)."
/** A script's non-zero exit. @since 1.0.0 */
export const scriptExitFailed = (exitValue: number) => `script exit value(${exitValue}) is failed`
/** The line a script run logs before it starts. @since 1.0.0 */
export const logScriptFile = (path: string) => `----------- script file:${path} -----------`
/** 3.4.1+ spelling (≤3.4.0 wrote "repeate"). @since 1.0.0 */
export const repeatTrigger = (logId: number) => `repeat trigger job, logId:${logId}`
/** Ours: Java's queue is unbounded, ours refuses past its limit rather than grow without end. @since 1.0.0 */
export const queueFull = (jobId: number, limit: number) =>
  `job queue is full (jobId ${jobId} already has ${limit} triggers waiting), trigger refused.`
/** Ours: the executor is shutting down and takes no new triggers. @since 1.0.0 */
export const shuttingDown = "executor is shutting down, trigger refused."
/** @since 1.0.0 */
export const alreadyKilled = "job thread already killed."

/** The block strategies' English titles, as the executor prints them. @since 1.0.0 */
export const discardLater = "block strategy effect：Discard Later"
/** @since 1.0.0 */
export const coverEarly = "block strategy effect：Cover Early"

/** Why a lane was stopped. @since 1.0.0 */
export const changeHandler = "change jobhandler or glue type, and terminate the old job thread."
/** @since 1.0.0 */
export const changeSource = "change job source or glue type, and terminate the old job thread."
/** @since 1.0.0 */
export const killedByAdmin = "scheduling center kill job."
/** @since 1.0.0 */
export const shutdownKill = "web container destroy and kill the job."

/** The suffixes of a stopped lane's results. @since 1.0.0 */
export const runningKilled = (reason: string) => `${reason} [job running, killed]`
/** @since 1.0.0 */
export const queuedKilled = (reason: string) => `${reason} [job not executed, in the job queue, killed.]`

/** The 502 result of a run past its `executorTimeout` (the trailing space is Java's). @since 1.0.0 */
export const timeout = "job execute timeout "
/** A job finished with no result code. @since 1.0.0 */
export const resultLost = "job handle result lost."
/** Ours: the trigger's params did not decode with the job's params Schema. @since 1.0.0 */
export const paramsInvalid = (detail: string) => `job params invalid: ${detail}`

/** Run log markers (`<br>` is literal text in Java's logs). @since 1.0.0 */
export const logStart = (params: string) =>
  `<br>----------- xxl-job job execute start -----------<br>----------- Param:${params}`
/** @since 1.0.0 */
export const logEnd = (code: number, msg: string | undefined) =>
  `<br>----------- xxl-job job execute end(finish) -----------<br>----------- Result: handleCode=${code}, handleMsg = ${
    msg ?? "null"
  }`
/** @since 1.0.0 */
export const logTimeout = (detail: string) => `<br>----------- xxl-job job execute timeout${detail}`
/** @since 1.0.0 */
export const logStopped = (reason: string) => `<br>----------- JobThread toStop, stopReason:${reason}`
/** @since 1.0.0 */
export const logException = (trace: string) =>
  `<br>----------- JobThread Exception:${trace}<br>----------- xxl-job job execute end(error) -----------`
/** @since 1.0.0 */
export const logCallbackFinish = "<br>----------- xxl-job job callback finish."
/** @since 1.0.0 */
export const logCallbackFail = (detail: string) => `<br>----------- xxl-job job callback fail, callbackResult:${detail}`

/** `/log` for a run whose log does not exist. @since 1.0.0 */
export const logFileNotExists = "readLog fail, logFile not exists"

/** Java cuts result messages longer than this and appends "...". @since 1.0.0 */
export const maxResultLength = 50000
/** @since 1.0.0 */
export const cutResult = (msg: string): string =>
  msg.length > maxResultLength ? msg.slice(0, maxResultLength) + "..." : msg
