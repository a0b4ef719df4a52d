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
import * as ValidationError from "@effect/cli/ValidationError"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as AdminClient from "../AdminClient.js"
import * as DevAdmin from "../DevAdmin.js"
import * as ExecutorConfig from "../ExecutorConfig.js"
import type * as Job from "../Job.js"
import * as MockAdmin from "../MockAdmin.js"
import * as Wire from "../Wire.js"
import * as AdminHints from "./adminHints.js"
import { decodeJobSpecs } from "./jobSpecs.js"
import { terminalLines } from "./terminalLines.js"
import { importUserModule } from "./userModule.js"

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

/**
 * The jobs module (`path` as the user typed it): its `jobs` registry (or default export) and, optionally, the
 * `layer` they need. A TypeScript module loads through the tsx of the user's project.
 */
const loadJobs = (path: string) =>
  Effect.gen(function*() {
    const imported = yield* Effect.tryPromise({
      try: () => importUserModule(path),
      catch: (error) => new CliError({ message: `cannot load ${path}: ${firstLine(error)}` })
    })
    if (imported._tag === "NoTypeScriptLoader") return yield* new CliError({ message: imported.message })
    const registry = imported.exports.jobs ?? imported.exports.default
    if (!isRegistry(registry)) {
      return yield* new CliError({
        message: `${path} exports no job registry: export const jobs = Job.registry(...) (or export it as default)`
      })
    }
    const layer = Layer.isLayer(imported.exports.layer) ? imported.exports.layer as Layer.Layer<unknown> : Layer.empty
    return { registry, layer }
  })

/** An error's message, its first line only: a module's syntax error carries a code frame after it. */
const firstLine = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split("\n")[0]

/** An error's message on one line: JSON.parse's quotes the text it could not read, line breaks and all. */
const oneLine = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ")

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
        // Java's `<br>` markers in the log text, as line breaks.
        for (const line of terminalLines(log.logContent.trimEnd())) yield* Console.log(`│ ${line}`)
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

/** Why the development admin cannot listen, and which option to change. */
const serveProblem = (where: { readonly host: string; readonly port: number }, cause: unknown): string => {
  const code = (cause as { code?: unknown } | undefined)?.code
  const at = `${where.host}:${where.port}`
  return code === "EADDRINUSE"
    ? `cannot serve the development admin on ${at}: the port is in use; choose another with --port`
    : code === "EADDRNOTAVAIL" || code === "ENOTFOUND"
    ? `cannot serve the development admin on ${at}: no interface of this machine has that address; check --host`
    : code === "EACCES"
    ? `cannot serve the development admin on ${at}: not allowed to listen on port ${where.port}; choose one above 1023 with --port`
    : `cannot serve the development admin on ${at}: ${firstLine(cause)}`
}

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
      const file = options.jobsFile
      const json = yield* Effect.try({
        try: () => JSON.parse(Fs.readFileSync(file, "utf8")) as unknown,
        catch: (error) => new CliError({ message: `cannot read ${file}: ${oneLine(error)}` })
      })
      const jobs = decodeJobSpecs(json)
      if (Either.isLeft(jobs)) return yield* new CliError({ message: `${file}: ${jobs.left}` })
      const serve = {
        port: options.port,
        host: options.host,
        contextPath: options.contextPath,
        accessToken: Option.getOrUndefined(options.token)
      }
      const dev = yield* DevAdmin.start({ jobs: jobs.right, serve }).pipe(
        Effect.catchTags({
          DevAdminError: (error) => new CliError({ message: `${file}: ${error.message}` }),
          ServeError: (error) => new CliError({ message: serveProblem(serve, error.cause) })
        })
      )
      yield* Console.log(`development admin at ${dev.admin.url} with ${jobs.right.length} job(s)`)
      yield* Console.log(`point executors at it: XXL_JOB_ADMIN_ADDRESSES=${dev.admin.url}`)
      yield* Console.log(`open the console (run once, kill, pause; runs and their logs): ${dev.admin.url}/console/`)
      return yield* Effect.never
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("start the development admin for running executors"))

// ---------------------------------------------------------------------------------------------------------
// check
// ---------------------------------------------------------------------------------------------------------

/** The check's settings, as the user typed them: its options. */
const checkOptions: AdminHints.SettingNames = { adminAddresses: "--admin", accessToken: "--token" }

/** The option a setting of `ExecutorConfig` came from, in the check. */
const optionOf: Record<string, string> = {
  adminAddresses: "--admin",
  appName: "--app",
  accessToken: "--token",
  address: "--address"
}

/** `--admin` and `--app` given and usable, checked here so that the error names the option as typed. */
const checkInputs = (options: { readonly admin: string; readonly app: string }) =>
  Effect.gen(function*() {
    const admins = options.admin.split(",").map((admin) => admin.trim()).filter((admin) => admin !== "")
    if (admins.length === 0) {
      return yield* new CliError({
        message: "--admin is empty: give the admin's base URL, e.g. --admin http://host:8080/xxl-job-admin"
      })
    }
    for (const admin of admins) {
      if (!/^https?:\/\/[^/]/i.test(admin) || !URL.canParse(admin)) {
        return yield* new CliError({
          message: `--admin ${JSON.stringify(admin)} is not an http:// or https:// URL: give the admin's base URL, ` +
            "e.g. --admin http://host:8080/xxl-job-admin"
        })
      }
    }
    if (options.app.trim() === "") {
      return yield* new CliError({ message: "--app is empty: give the executor's AppName, as the admin knows it" })
    }
  })

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
      yield* checkInputs(options)
      const settings = yield* ExecutorConfig.make({
        adminAddresses: options.admin,
        appName: options.app,
        accessToken: options.token,
        address: options.address
      }).pipe(
        Effect.mapError((error) =>
          new CliError({
            message: `${optionOf[error.setting] ?? error.setting}: ${
              // Setting names become the options', outside the quoted values (a URL may hold "address").
              error.problem.replace(
                /"(?:[^"\\]|\\.)*"|\b(adminAddresses|appName|accessToken|address)\b/g,
                (match, key: string | undefined) => key === undefined ? match : optionOf[key]
              )}`
          })
        )
      )
      const client = yield* AdminClient.make.pipe(Effect.provideService(ExecutorConfig.ExecutorConfig, settings))
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
          const hint = AdminHints.hintFor(attempt.problem, checkOptions)
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

/**
 * The command line as the executable runs it: a mistake on the command line is told once by @effect/cli
 * (its usage error, already printed), a command that cannot do its work on one line; either exits 1. What
 * is left (a bug of ours) reaches `runMain` with its stack trace.
 *
 * @internal
 */
export const main = (argv: ReadonlyArray<string>) =>
  run(argv).pipe(
    Effect.catchIf(ValidationError.isValidationError, () => Effect.sync(() => void (process.exitCode = 1))),
    Effect.catchTag("CliError", (error) =>
      Effect.zipRight(
        Console.error(`effect-xxl-job: ${error.message}`),
        Effect.sync(() => void (process.exitCode = 1))
      ))
  )
