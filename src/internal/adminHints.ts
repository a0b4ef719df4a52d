/**
 * What to look at when an admin refuses or cannot be reached: one hint per kind of problem (a wrong context
 * path, a wrong token, a certificate Node does not trust, no admin there), worded for where the setting is
 * written: the executor's environment variables, or the command line's options. `effect-xxl-job check` and
 * the executor's registry beat give the same diagnosis.
 *
 * @internal
 */
import type * as AdminClient from "../AdminClient.js"
import { environmentNames } from "../ExecutorConfig.js"

/**
 * How the user writes the two settings a hint may name.
 *
 * @internal
 */
export interface SettingNames {
  readonly adminAddresses: string
  readonly accessToken: string
}

/**
 * A setting as a person would set it: its environment variable, and its option in code. (A check at start
 * does not know which of the two the value came from, so its messages name both.)
 *
 * @internal
 */
export const settingNames = (key: keyof typeof environmentNames): string => `${environmentNames[key]} (${key})`

/**
 * The settings as an executor reads them.
 *
 * @internal
 */
export const executorSettings: SettingNames = {
  adminAddresses: settingNames("adminAddresses"),
  accessToken: settingNames("accessToken")
}

/** Node's codes for a certificate it does not trust, or one that is not the host's. */
const certificateCodes = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID"
])

/** The `code` of an error (Node's, or the one it wraps), if it has one. */
const codeOf = (cause: unknown): string | undefined => {
  for (let error = cause; typeof error === "object" && error !== null; error = (error as { cause?: unknown }).cause) {
    const code = (error as { code?: unknown }).code
    if (typeof code === "string") return code
  }
  return undefined
}

/**
 * What to look at, for what went wrong at an admin; `undefined` when there is nothing more to say than the
 * problem itself.
 *
 * @internal
 */
export const hintFor = (problem: AdminClient.AdminProblem, names: SettingNames): string | undefined => {
  const contextPath = `${names.adminAddresses} must be the admin's base URL with its context path, ` +
    "e.g. http://host:8080/xxl-job-admin (not a page of its UI, not a login page behind a proxy)"
  switch (problem._tag) {
    case "NotProtocol":
      return problem.kind === "html" ? contextPath : undefined
    case "HttpStatus":
      return problem.status === 404 || problem.status === 405 ? contextPath : undefined
    case "Refused":
      // The admin's own words: `uri-mapping(…) not found` for a wrong path, `The access token is wrong.`
      return problem.msg?.includes("uri-mapping")
        ? contextPath
        : /token/i.test(problem.msg ?? "")
        ? `${names.accessToken} must equal xxl.job.accessToken in the admin's application.properties`
        : undefined
    case "Unreachable":
      return certificateCodes.has(codeOf(problem.cause) ?? "")
        ? "an https:// admin whose certificate Node does not trust: for one signed by an internal CA, " +
          "run with NODE_EXTRA_CA_CERTS=/path/to/ca.pem (read at start)"
        : "is the admin running, and reachable from here? (a proxy: HTTP_PROXY / NO_PROXY)"
    case "NoAnswer":
      return "the admin did not answer in time: is the address a real admin?"
    case "NotSent":
      return undefined
  }
}

/**
 * A failed admin call on one line: each address tried with what went wrong there and, after an arrow, what
 * to look at.
 *
 * @internal
 */
export const describeFailure = (error: AdminClient.AdminError, names: SettingNames): string => {
  if (error.attempts.length === 0) return `${error.operation}: no admin address is configured (${names.adminAddresses})`
  const hints = [...new Set(error.attempts.map((attempt) => hintFor(attempt.problem, names)))]
    .filter((hint) => hint !== undefined)
  return `${error.message}${hints.map((hint) => ` → ${hint}`).join("")}`
}

/**
 * A key for a failure that stays the same while the same thing keeps going wrong, so a repeat is told once:
 * the addresses tried and the kind of each problem (not its changing details, such as a timestamp in a page).
 *
 * @internal
 */
export const failureKey = (error: AdminClient.AdminError): string =>
  JSON.stringify(error.attempts.map(({ problem, url }) => {
    switch (problem._tag) {
      case "HttpStatus":
        return [url, problem._tag, problem.status]
      case "NotProtocol":
        return [url, problem._tag, problem.kind]
      case "Refused":
        return [url, problem._tag, problem.code, problem.msg]
      case "Unreachable":
      case "NotSent":
        return [url, problem._tag, codeOf(problem.cause) ?? String(problem.cause)]
      case "NoAnswer":
        return [url, problem._tag]
    }
  }))
