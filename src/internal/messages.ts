/**
 * The texts the admin shows its users, exactly as the Java executor writes them (xxl-job-core 3.4.2), in one
 * place. Where we add a case Java does not have, the text says plainly what happened.
 *
 * @internal
 */

export const methodNotSupported = "invalid request, HttpMethod not support."
export const uriMappingEmpty = "invalid request, uri-mapping empty."
export const uriMappingNotFound = (uri: string) => `invalid request, uri-mapping(${uri}) not found.`
export const accessTokenWrong = "The access token is wrong."
/** 3.5: the `XXL-JOB-APPNAME` header or the token is missing. */
export const tokenOrAppnameEmpty = "invalid request, accessToken or appname is empty."
/** 3.5: the `XXL-JOB-APPNAME` header or the token does not match. */
export const tokenOrAppnameInvalid = "invalid request, accessToken or appname invalid."
/** The prefix Java puts before any exception while it reads a request. */
export const requestError = (detail: string) => `request error:${detail}`
export const bodyTooLarge = (limit: number) => requestError(`request body is larger than the limit of ${limit} bytes.`)

export const bodyTooSlow = (limit: string) => requestError(`the request body did not arrive within ${limit}.`)

export const jobBusy = "job thread is running or has trigger queue."
export const jobHandlerNotFound = (name: string) => `job handler [${name}] not found.`
export const glueTypeNotValid = (glueType: string | undefined) => `glueType[${glueType ?? "null"}] is not valid.`
/** Ours: a GLUE script job while scripts are off (the default). */
export const glueTypeNotEnabled = (glueType: string) =>
  `glueType[${glueType}] is not enabled on this executor (GLUE scripts are off; XXL_JOB_EXECUTOR_GLUE_SCRIPTS=on turns them on).`
/** Ours: Groovy jobs are compiled into the JVM; Node has none. */
export const glueGroovyNotSupported =
  "glueType[GLUE_GROOVY] is not supported by this executor (Groovy jobs need a JVM)."
/** A script's non-zero exit. */
export const scriptExitFailed = (exitValue: number) => `script exit value(${exitValue}) is failed`
/** The line a script run logs before it starts. */
export const logScriptFile = (path: string) => `----------- script file:${path} -----------`
/** 3.4.1+ spelling (≤3.4.0 wrote "repeate"). */
export const repeatTrigger = (logId: number) => `repeat trigger job, logId:${logId}`
/** Ours: Java's queue is unbounded, ours refuses past its limit rather than grow without end. */
export const queueFull = (jobId: number, limit: number) =>
  `job queue is full (jobId ${jobId} already has ${limit} triggers waiting), trigger refused.`
/** Ours: the executor is shutting down and takes no new triggers. */
export const shuttingDown = "executor is shutting down, trigger refused."
export const alreadyKilled = "job thread already killed."

/** The block strategies' English titles, as the executor prints them. */
export const discardLater = "block strategy effect：Discard Later"
export const coverEarly = "block strategy effect：Cover Early"

/** Why a lane was stopped. */
export const changeHandler = "change jobhandler or glue type, and terminate the old job thread."
export const changeSource = "change job source or glue type, and terminate the old job thread."
export const killedByAdmin = "scheduling center kill job."
export const shutdownKill = "web container destroy and kill the job."

/** The suffixes of a stopped lane's results. */
export const runningKilled = (reason: string) => `${reason} [job running, killed]`
export const queuedKilled = (reason: string) => `${reason} [job not executed, in the job queue, killed.]`

/**
 * Ours: why a trigger accepted by an earlier process got no result from it (the process stopped: a crash, a
 * kill, the machine), reported at the next start.
 */
export const stoppedDuringRun = (acceptedAt: string) =>
  `the executor stopped during this run and has restarted (the trigger was accepted at ${acceptedAt}); the job may have partly run.`
export const stoppedBeforeRun = (acceptedAt: string) =>
  `the executor stopped before this run started and has restarted (the trigger was accepted at ${acceptedAt}).`

/** The 502 result of a run past its `executorTimeout` (the trailing space is Java's). */
export const timeout = "job execute timeout "
/** A job finished with no result code. */
export const resultLost = "job handle result lost."
/** Ours: the trigger's params did not decode with the job's params Schema. */
export const paramsInvalid = (detail: string) => `job params invalid: ${detail}`

/** Run log markers (`<br>` is literal text in Java's logs). */
export const logStart = (params: string) =>
  `<br>----------- xxl-job job execute start -----------<br>----------- Param:${params}`
export const logEnd = (code: number, msg: string | undefined) =>
  `<br>----------- xxl-job job execute end(finish) -----------<br>----------- Result: handleCode=${code}, handleMsg = ${
    msg ?? "null"
  }`
export const logTimeout = (detail: string) => `<br>----------- xxl-job job execute timeout${detail}`
export const logStopped = (reason: string) => `<br>----------- JobThread toStop, stopReason:${reason}`
export const logException = (trace: string) =>
  `<br>----------- JobThread Exception:${trace}<br>----------- xxl-job job execute end(error) -----------`
export const logCallbackFinish = "<br>----------- xxl-job job callback finish."
export const logCallbackFail = (detail: string) => `<br>----------- xxl-job job callback fail, callbackResult:${detail}`

/** Ours: where lines went missing from a run's log because the store could not take them (a full disk). */
export const logLinesDropped = (lines: number, chars: number, limit: number) =>
  `<br>----------- log truncated: ${lines} line(s) (${chars} characters) dropped here: the run log store could not write them and ${limit} characters were already waiting for it -----------`

/** Ours: `/log` when the run log store did not give a page (it did not answer in time, or failed). */
export const logUnreadable = (reason: string) => `readLog fail, ${reason}; the run's lines are kept until it answers`

/** `/log` for a run whose log does not exist. */
export const logFileNotExists = "readLog fail, logFile not exists"

/** Java cuts result messages longer than this and appends "...". */
export const maxResultLength = 50000
export const cutResult = (msg: string): string =>
  msg.length > maxResultLength ? msg.slice(0, maxResultLength) + "..." : msg
