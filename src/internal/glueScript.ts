/**
 * GLUE script jobs: the shell, Python, Node.js, PHP and PowerShell sources an admin user edits in the admin's
 * UI, run as child processes exactly as the Java executor runs them. The source is written to
 * `{logPath}/gluesource/{jobId}_{glueUpdatetime}{suffix}`; the interpreter gets `[file, params, shardIndex,
 * shardTotal]`; stdout and stderr are copied into the run's log as they come; exit 0 is success, anything
 * else `script exit value(N) is failed`.
 *
 * Unlike Java, a kill or a timeout ends the script's whole process group (SIGTERM, then SIGKILL after a
 * short grace): nothing the script started is left behind.
 *
 * @internal
 */
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { environmentNames } from "../ExecutorConfig.js"
import * as Job from "../Job.js"
import type { TriggerParam } from "../Wire.js"
import * as Messages from "./messages.js"

/**
 * How each script type is run: the interpreter and the script file's suffix (the commands of admin 3.4.2:
 * `python3` for GLUE_PYTHON, `python` for GLUE_PYTHON2, `pwsh` for PowerShell).
 *
 * @internal
 */
export const interpreters: Readonly<Record<string, { readonly command: string; readonly suffix: string }>> = {
  GLUE_SHELL: { command: "bash", suffix: ".sh" },
  GLUE_PYTHON: { command: "python3", suffix: ".py" },
  GLUE_PYTHON2: { command: "python", suffix: ".py" },
  GLUE_NODEJS: { command: "node", suffix: ".js" },
  GLUE_PHP: { command: "php", suffix: ".php" },
  GLUE_POWERSHELL: { command: "pwsh", suffix: ".ps1" }
}

/**
 * Is this glue type a script we run as a process?
 *
 * @internal
 */
export const isScript = (glueType: string | undefined): boolean =>
  glueType !== undefined && Object.hasOwn(interpreters, glueType)

/** After SIGTERM, how long a killed script's process group has before SIGKILL. */
const killGrace = Duration.seconds(2)

/** After the script exits, how long its output may stay open (held by a process it left behind). */
const outputGrace = Duration.seconds(2)

/** Settings a script must not see: the executor's secrets (everything else is inherited, as in Java). */
const hiddenVariables = [environmentNames.accessToken, environmentNames.redisUrl]

const scriptEnvironment = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !hiddenVariables.includes(name as typeof hiddenVariables[number])) env[name] = value
  }
  return env
}

/** Java's exit value for a process ended by a signal: 128 + the signal's number. */
const exitValueOfSignal = (message: string): number => {
  const name = /signal: (\w+)/.exec(message)?.[1]
  const number = name === undefined ? undefined : Os.constants.signals[name as keyof typeof Os.constants.signals]
  return number === undefined ? -1 : 128 + number
}

/**
 * Makes the script jobs of one executor: `jobFor(trigger)` is the job for a GLUE script trigger, its source
 * file under `{logPath}/gluesource/`. A job is made per source version (the lane that runs it is replaced
 * when `glueUpdatetime` changes), so its file is prepared once, on its first run.
 *
 * @internal
 */
export const makeRunner = (logPath: string) =>
  Effect.gen(function*() {
    const executor = yield* CommandExecutor.CommandExecutor.pipe(
      Effect.provide(NodeCommandExecutor.layer),
      Effect.provide(NodeFileSystem.layer)
    )
    const sourceDir = Path.join(logPath, "gluesource")

    /** Writes this version's file, and deletes the job's older ones (Java does the same). */
    const prepare = (jobId: number, file: string, source: string) =>
      Effect.tryPromise(async () => {
        await Fs.mkdir(sourceDir, { recursive: true })
        const own = Path.basename(file)
        for (const name of await Fs.readdir(sourceDir)) {
          if (name.startsWith(`${jobId}_`) && name !== own) await Fs.rm(Path.join(sourceDir, name), { force: true })
        }
        // The source may hold secrets: readable by the executor's user only.
        await Fs.writeFile(file, source, { encoding: "utf8", mode: 0o600 })
      })

    const jobFor = (trigger: TriggerParam): Job.Job<Job.JobFailed> => {
      const glueType = trigger.glueType!
      const { command, suffix } = interpreters[glueType]
      const file = Path.join(sourceDir, `${trigger.jobId}_${trigger.glueUpdatetime}${suffix}`)
      const source = trigger.glueSource
      let prepared = false
      const run = Effect.gen(function*() {
        const context = yield* Job.JobContext
        if (!prepared) {
          yield* prepare(trigger.jobId, file, source).pipe(
            Effect.mapError((error) =>
              new Job.JobFailed({ message: `cannot write the script file ${file}: ${String(error.error)}` })
            )
          )
          prepared = true
        }
        context.log(Messages.logScriptFile(file))
        const exitValue = yield* runProcess(
          Command.make(command, file, context.params, String(context.shardIndex), String(context.shardTotal)).pipe(
            Command.env(scriptEnvironment()),
            Command.stdin(Stream.empty)
          ),
          context
        )
        if (exitValue !== 0) return yield* Job.fail(Messages.scriptExitFailed(exitValue))
      })
      return { name: glueType, description: `GLUE script of job ${trigger.jobId}`, run }
    }

    /**
     * Runs the process to its end, its output copied line by line into the run's log; the exit value. When
     * interrupted (kill, timeout, cover), the whole process group is ended before the run ends.
     */
    const runProcess = (command: Command.Command, context: Job.JobContextShape) =>
      Effect.scoped(Effect.gen(function*() {
        const started = yield* Effect.either(executor.start(command))
        if (started._tag === "Left") {
          // Java reports an exec failure as exit value -1; the run's log says what it was.
          context.log(`cannot start the script: ${started.left.message}`)
          return -1
        }
        const process = started.right
        const copy = (output: Stream.Stream<Uint8Array, unknown>) =>
          output.pipe(
            Stream.decodeText(),
            Stream.splitLines,
            Stream.runForEach((line) => Effect.sync(() => context.logRaw(line))),
            Effect.ignore,
            Effect.fork
          )
        const stdout = yield* copy(process.stdout)
        const stderr = yield* copy(process.stderr)
        return yield* Effect.gen(function*() {
          const exit = yield* Effect.either(process.exitCode)
          // Every line the script wrote is in the log before its result. A process it left in the background
          // (`daemon &`) may hold the output open for ever: past a grace, reading stops and the run ends.
          const drained = yield* Fiber.join(Fiber.zip(stdout, stderr)).pipe(
            Effect.timeout(outputGrace),
            Effect.isSuccess
          )
          if (!drained) {
            context.log(
              `the script exited, but a process it started still holds its output: stopped reading after ${
                Duration.format(outputGrace)
              }`
            )
          }
          return exit._tag === "Right" ? exit.right : exitValueOfSignal(exit.left.message)
        }).pipe(Effect.onInterrupt(() => endGroup(process)))
      }))

    return { jobFor } satisfies Runner
  })

/** The script jobs of one executor. */
export interface Runner {
  /** The job for a GLUE script trigger: a job per source version (`glueUpdatetime`). */
  readonly jobFor: (trigger: TriggerParam) => Job.Job<Job.JobFailed>
}

/**
 * Ends a script and everything it started: SIGTERM to its process group, then SIGKILL to whatever is left of
 * the group after the grace (a process that ignores SIGTERM, a child the script left behind). Errors mean
 * there was nothing left to signal.
 */
const endGroup = (process: CommandExecutor.Process) => {
  // Each signal waits for the script's exit; interruptible (finalizers are not) so the grace can cut it.
  const signal = (name: "SIGTERM" | "SIGKILL") =>
    Effect.interruptible(process.kill(name)).pipe(Effect.timeout(killGrace), Effect.ignore)
  return Effect.zipRight(signal("SIGTERM"), signal("SIGKILL"))
}
