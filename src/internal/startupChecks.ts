/**
 * What a person sees when the executor starts with settings that cannot work here: the log path checked
 * before any file is opened, a port that cannot be bound, each as one line naming the setting to change
 * (an `ExecutorConfigError`); and the warnings worth a line once at start.
 *
 * A check at start does not know whether a value came from the environment or from code, so its messages
 * name both: `XXL_JOB_EXECUTOR_PORT (port)`.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { ExecutorConfigError, type Settings } from "../ExecutorConfig.js"
import { settingNames } from "./adminHints.js"
import * as Registration from "./registration.js"

const codeOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code

/**
 * Why a folder could not be made or written in `where` (the folder itself when undefined), in words: Node's
 * own text for a code we do not expect.
 */
const reasonOf = (error: unknown, where?: string): string => {
  const inWhere = where === undefined ? "" : ` in ${where}`
  switch (codeOf(error)) {
    case "EACCES":
    case "EPERM":
      return `permission denied${inWhere}`
    case "EROFS":
      return `read-only file system${inWhere}`
    case "ENOTDIR":
    case "EEXIST":
      return `${where ?? "it"} is a file, not a directory`
    default:
      return (error as Error).message
  }
}

/**
 * Why the run logs and the results journal cannot live under `logPath`, or undefined when they can. Creates
 * the folder when it is missing (as the stores would), then makes and removes a folder in it: a write of
 * this user's, on this mount, is the only test that does not miss a case (root, read-only mounts, ACLs).
 *
 * @internal
 */
export const logPathProblem = (logPath: string): string | undefined => {
  const path = Path.resolve(logPath)
  // One folder at a time from the deepest that exists, so that a failure names the folder this user could
  // not create in (a recursive mkdir names the whole path, or says ENOENT on a read-only mount).
  const missing: Array<string> = []
  for (let folder = path; !Fs.existsSync(folder) && Path.dirname(folder) !== folder; folder = Path.dirname(folder)) {
    missing.unshift(folder)
  }
  for (const folder of missing) {
    try {
      Fs.mkdirSync(folder)
    } catch (error) {
      if (codeOf(error) === "EEXIST" && Fs.statSync(folder).isDirectory()) continue
      return `cannot create ${path} (${reasonOf(error, Path.dirname(folder))})`
    }
  }
  if (!Fs.statSync(path).isDirectory()) return `${path} is a file, not a directory`
  try {
    Fs.rmdirSync(Fs.mkdtempSync(Path.join(path, ".write-check-")))
  } catch (error) {
    return `cannot write in ${path} (${reasonOf(error)})`
  }
  return undefined
}

/**
 * Fails, in one line naming `XXL_JOB_EXECUTOR_LOGPATH`, when the log path cannot be written: before any store
 * opens a file in it (a store would fail later with a raw `EACCES` and a stack).
 *
 * @internal
 */
export const checkLogPath = (settings: Settings): Effect.Effect<void, ExecutorConfigError> =>
  Effect.suspend(() => {
    const problem = logPathProblem(settings.logPath)
    return problem === undefined ? Effect.void : Effect.fail(
      new ExecutorConfigError({
        setting: settingNames("logPath"),
        problem:
          `${problem}: set it to a directory this user can write (run logs and undelivered results are kept there)`
      })
    )
  })

/**
 * A server that could not listen, as the setting to change: the port of `key` (the executor's, or the metrics
 * server's), or the host.
 *
 * @internal
 */
export const listenError = (
  error: unknown,
  key: "port" | "metrics",
  port: number,
  host: string
): ExecutorConfigError => {
  const portSetting = settingNames(key)
  const which = key === "metrics" ? "the metrics port" : "port"
  switch (codeOf(error)) {
    case "EADDRINUSE":
      return new ExecutorConfigError({
        setting: portSetting,
        problem:
          `${which} ${port} on ${host} is already in use (another executor?): stop that process or set a free port${
            key === "metrics" ? ", or \"on\" to serve metrics on the executor's port" : ""
          }`
      })
    case "EACCES":
      return new ExecutorConfigError({
        setting: portSetting,
        problem:
          `this user may not listen on ${which} ${port} of ${host} (ports below 1024 need privileges): set a port from 1024 up`
      })
    case "EADDRNOTAVAIL":
      return new ExecutorConfigError({
        setting: settingNames("host"),
        problem: `${host} is not an address of this machine: set one of its addresses, or 0.0.0.0 for every interface`
      })
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new ExecutorConfigError({
        setting: settingNames("host"),
        problem:
          `${host} does not resolve to an address: set an address of this machine, or 0.0.0.0 for every interface`
      })
    default:
      return new ExecutorConfigError({
        setting: portSetting,
        problem: `cannot listen on ${which} ${port} of ${host} (${(error as Error).message})`
      })
  }
}

/** Binds `port` on `host` and lets it go again: whether the server will be able to listen there. */
const tryListen = (key: "port" | "metrics", port: number, host: string) =>
  Effect.async<void, ExecutorConfigError>((resume) => {
    const probe = Net.createServer()
    probe.once("error", (error) => resume(Effect.fail(listenError(error, key, port, host))))
    probe.listen(port, host, () => probe.close(() => resume(Effect.void)))
  })

/**
 * Fails as the server's own listen would, but before the executor starts: else a port in use is said only
 * once the outbox, started first, has had its closing grace to send what an earlier process left (seconds,
 * with the admin away). A port taken between this check and the listen still fails there, as the same line.
 *
 * @internal
 */
export const checkPorts = (settings: Settings): Effect.Effect<void, ExecutorConfigError> =>
  Effect.zipRight(
    settings.port === 0 ? Effect.void : tryListen("port", settings.port, settings.host),
    typeof settings.metrics === "number" && settings.metrics !== 0
      ? tryListen("metrics", settings.metrics, settings.host)
      : Effect.void
  )

/**
 * Whether `host` (an IP, a name, or a URL's bracketed IPv6 host) is this machine's loopback only: the
 * 127.0.0.0/8 block, `::1` (IPv4-mapped too), `localhost`.
 *
 * @internal
 */
export const isLoopback = (host: string): boolean => {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase()
  if (bare === "localhost" || bare.endsWith(".localhost")) return true
  const ipv4 = bare.replace(/^::ffff:/, "")
  if (Net.isIPv4(ipv4)) return ipv4.startsWith("127.")
  return Net.isIPv6(bare) && (bare === "::1" || bare === "0:0:0:0:0:0:0:1")
}

/**
 * The warnings of an executor with a server of its own, listening on `port` and registered as `address`:
 * no access token where others can reach it (the Java executor warns of an empty token too), and a registered
 * address the server does not listen on.
 *
 * @internal
 */
export const serverWarnings = (settings: Settings, port: number, address: string): ReadonlyArray<string> => {
  const warnings: Array<string> = []
  if (Redacted.value(settings.accessToken) === "" && !isLoopback(settings.host)) {
    warnings.push(
      `no access token while listening on ${settings.host}: anyone who can reach port ${port} can run this executor's jobs; set ${
        settingNames("accessToken")
      }, and the same token in the admin`
    )
  }
  if (Registration.registers(settings) && isLoopback(settings.host) && !isLoopback(new URL(address).hostname)) {
    warnings.push(
      `listening on ${settings.host} only, but registered with the admin as ${address}: the admin's calls to that address will not reach this executor (unless a proxy on this machine forwards them); set ${
        settingNames("host")
      } to 0.0.0.0, or, with the admin on this machine, ${
        settings.address === undefined
          ? `${settingNames("ip")} to 127.0.0.1`
          : `${settingNames("address")} to a loopback URL`
      }`
    )
  }
  return warnings
}
