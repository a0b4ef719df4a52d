/**
 * The `effect-xxl-job` command line:
 *
 * - `run <handler> --jobs <module>`: runs one job once, here, with params and shard values, and prints its
 *   log and result (no admin, no port: the mock admin in process). The module exports `jobs` (a
 *   `Job.registry(...)`) and, when the jobs need services, `layer` providing them.
 * - `admin`: starts the development admin (`DevAdmin`) on a port, with the jobs of a JSON file, for
 *   executors that are already running (point their `XXL_JOB_ADMIN_ADDRESSES` at it).
 * - `check --admin <url> --app <name>`: a registry round trip with a real admin (`registry`, then
 *   `registryRemove`), and a diagnosis when it fails: wrong context path, wrong token, a login page…
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"
import * as AdminClient from "../AdminClient.js"
import * as DevAdmin from "../DevAdmin.js"
import * as ExecutorConfig from "../ExecutorConfig.js"
import type * as Job from "../Job.js"
import * as MockAdmin from "../MockAdmin.js"
import * as Wire from "../Wire.js"

/**
 * A command that could not do its work; the message says why.
 *
 * @internal
 */
export class CliError extends Data.TaggedError("CliError")<{ readonly message: string }> {}

// ---------------------------------------------------------------------------------------------------------
// run
// ---------------------------------------------------------------------------------------------------------

const isRegistry = (value: unknown): value is Job.Registry<unknown> =>
  typeof value === "object" && value !== null && (value as { jobs?: unknown }).jobs instanceof Map

/** The jobs module: its `jobs` registry (or default export) and, optionally, the `layer` they need. */
const loadJobs = (path: string) =>
  Effect.gen(function*() {
    const file = Path.resolve(path)
    const loaded = yield* Effect.tryPromise({
      try: () => import(Url.pathToFileURL(file).href) as Promise<Record<string, unknown>>,
      catch: (error) =>
        new CliError({
          message: `cannot load ${file}: ${(error as Error).message}${
            /\.[cm]?ts$/.test(file) && /extension/.test((error as Error).message)
              ? " (a TypeScript module needs a loader: run the command with `npx tsx`, or point at the compiled .js)"
              : ""
          }`
        })
    })
    const registry = loaded.jobs ?? loaded.default
    if (!isRegistry(registry)) {
      return yield* new CliError({
        message: `${file} exports no job registry: export const jobs = Job.registry(...) (or export it as default)`
      })
    }
    const layer = Layer.isLayer(loaded.layer) ? loaded.layer as Layer.Layer<unknown> : Layer.empty
    return { registry, layer }
  })

const runCommand = Command.make(
  "run",
  {
    handler: Args.text({ name: "handler" }).pipe(Args.withDescription("the job's handler name")),
    jobs: Options.file("jobs", { exists: "yes" }).pipe(
      Options.withDescription("the module that exports `jobs` (and `layer`, when the jobs need services)")
    ),
    params: Options.text("params").pipe(Options.withDefault(""), Options.withDescription("executorParams")),
    shardIndex: Options.integer("shard-index").pipe(Options.withDefault(0)),
    shardTotal: Options.integer("shard-total").pipe(Options.withDefault(1)),
    timeout: Options.integer("timeout").pipe(
      Options.withDefault(0),
      Options.withDescription("executorTimeout in seconds (0: none)")
    )
  },
  (options) =>
    Effect.gen(function*() {
      const { layer, registry } = yield* loadJobs(options.jobs)
      if (!registry.jobs.has(options.handler)) {
        return yield* new CliError({
          message: `no job named "${options.handler}" in ${options.jobs}; it has: ${
            [...registry.jobs.keys()].join(", ")
          }`
        })
      }
      yield* Effect.gen(function*() {
        const admin = yield* MockAdmin.MockAdmin
        const { logId, reply } = yield* admin.trigger({
          handler: options.handler,
          params: options.params,
          shardIndex: options.shardIndex,
          shardTotal: options.shardTotal,
          timeoutSeconds: options.timeout
        })
        if (reply.code !== Wire.Code.success) {
          return yield* new CliError({ message: `the trigger was refused: ${reply.msg}` })
        }
        const result = yield* admin.result(logId, Duration.infinity)
        const log = yield* admin.log(logId, 1)
        for (const line of log.logContent.trimEnd().split("\n")) yield* Console.log(`│ ${line}`)
        yield* Console.log(
          `result: ${result.handleCode}${result.handleMsg === undefined ? "" : ` ${result.handleMsg}`}`
        )
        if (result.handleCode !== Wire.Code.success) process.exitCode = 1
      }).pipe(
        Effect.provide(MockAdmin.layer(registry as Job.Registry<never>, { logRetentionDays: 0 })),
        Effect.provide(layer)
      )
    })
).pipe(Command.withDescription("run one job once, here, and print its log and result"))

// ---------------------------------------------------------------------------------------------------------
// admin
// ---------------------------------------------------------------------------------------------------------

const adminCommand = Command.make(
  "admin",
  {
    jobsFile: Options.file("jobs-file", { exists: "yes" }).pipe(
      Options.withDescription(
        "a JSON array of jobs: [{\"jobId\":1,\"handler\":\"report\",\"schedule\":{\"cron\":\"0 0/5 * * * ?\"},\"route\":\"ROUND\"}]"
      )
    ),
    port: Options.integer("port").pipe(Options.withDefault(8080)),
    host: Options.text("host").pipe(Options.withDefault("127.0.0.1")),
    contextPath: Options.text("context-path").pipe(Options.withDefault("/xxl-job-admin")),
    token: Options.text("token").pipe(Options.optional, Options.withDescription("the access token executors send"))
  },
  (options) =>
    Effect.gen(function*() {
      const jobs = yield* Effect.try({
        try: () => JSON.parse(Fs.readFileSync(options.jobsFile, "utf8")) as ReadonlyArray<DevAdmin.JobSpec>,
        catch: (error) => new CliError({ message: `cannot read ${options.jobsFile}: ${(error as Error).message}` })
      })
      if (!Array.isArray(jobs)) return yield* new CliError({ message: `${options.jobsFile} must hold a JSON array` })
      const dev = yield* DevAdmin.start({
        jobs,
        serve: {
          port: options.port,
          host: options.host,
          contextPath: options.contextPath,
          accessToken: Option.getOrUndefined(options.token)
        }
      })
      yield* Console.log(`development admin at ${dev.admin.url} with ${jobs.length} job(s)`)
      yield* Console.log(`point executors at it: XXL_JOB_ADMIN_ADDRESSES=${dev.admin.url}`)
      return yield* Effect.never
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("start the development admin for running executors"))

// ---------------------------------------------------------------------------------------------------------
// check
// ---------------------------------------------------------------------------------------------------------

const hints = {
  contextPath:
    "the address must be the admin's base URL with its context path, e.g. http://host:8080/xxl-job-admin (not a page of its UI, not a login page behind a proxy)",
  token: "XXL_JOB_ACCESS_TOKEN (--token) must equal xxl.job.accessToken in the admin's application.properties",
  certificate:
    "an https:// admin whose certificate Node does not trust: for one signed by an internal CA, run with NODE_EXTRA_CA_CERTS=/path/to/ca.pem (read at start)",
  unreachable: "is the admin running, and reachable from here? (a proxy: HTTP_PROXY / NO_PROXY)",
  noAnswer: "the admin did not answer in time: is the address a real admin?"
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

/** What to look at, for what went wrong at an admin. */
const hintFor = (problem: AdminClient.AdminProblem): string | undefined => {
  switch (problem._tag) {
    case "NotProtocol":
      return problem.kind === "html" ? hints.contextPath : undefined
    case "HttpStatus":
      return problem.status === 404 || problem.status === 405 ? hints.contextPath : undefined
    case "Refused":
      // The admin's own words: `uri-mapping(…) not found` for a wrong path, `The access token is wrong.`
      return problem.msg?.includes("uri-mapping")
        ? hints.contextPath
        : /token/i.test(problem.msg ?? "")
        ? hints.token
        : undefined
    case "Unreachable":
      return certificateCodes.has(codeOf(problem.cause) ?? "") ? hints.certificate : hints.unreachable
    case "NoAnswer":
      return hints.noAnswer
    case "NotSent":
      return undefined
  }
}

const checkCommand = Command.make(
  "check",
  {
    admin: Options.text("admin").pipe(
      Options.withDescription("the admin's base URL, e.g. http://host:8080/xxl-job-admin")
    ),
    app: Options.text("app").pipe(Options.withDescription("the executor's AppName")),
    token: Options.text("token").pipe(Options.withDefault("")),
    address: Options.text("address").pipe(
      Options.withDefault("http://127.0.0.1:9999/"),
      Options.withDescription("the address registered during the check (removed right after)")
    )
  },
  (options) =>
    Effect.gen(function*() {
      const client = yield* AdminClient.make.pipe(
        Effect.provideServiceEffect(
          ExecutorConfig.ExecutorConfig,
          ExecutorConfig.make({ adminAddresses: options.admin, appName: options.app, accessToken: options.token })
        )
      )
      const param = new Wire.RegistryParam({
        registryGroup: "EXECUTOR",
        registryKey: options.app,
        registryValue: options.address
      })
      const registered = yield* Effect.either(client.registry(param))
      if (registered._tag === "Left") {
        yield* Console.log(`✗ registry with ${options.admin} failed`)
        for (const attempt of registered.left.attempts) {
          yield* Console.log(`  ${AdminClient.formatAttempt(attempt)}`)
          const hint = hintFor(attempt.problem)
          if (hint !== undefined) yield* Console.log(`  → ${hint}`)
        }
        process.exitCode = 1
        return
      }
      yield* Console.log(`✔ registry: the admin at ${options.admin} accepted "${options.app}" (${options.address})`)
      const removed = yield* Effect.either(client.registryRemove(param))
      yield* Console.log(
        removed._tag === "Right"
          ? "✔ registryRemove: taken back"
          : `✗ registryRemove failed: ${removed.left.message}`
      )
      if (removed._tag === "Left") process.exitCode = 1
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("check the connection to a real admin: a registry round trip, with a diagnosis"))

/**
 * The whole command line.
 *
 * @internal
 */
export const command = Command.make("effect-xxl-job").pipe(
  Command.withSubcommands([runCommand, adminCommand, checkCommand])
)

/**
 * Runs the command line on `argv` (as `process.argv`). Needs `NodeContext.layer` (files, paths, terminal).
 *
 * @internal
 */
export const run = Command.run(command, { name: "effect-xxl-job", version: "0.1.0" })
