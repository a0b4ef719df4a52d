/**
 * GLUE script jobs over real HTTP on loopback: each script type whose interpreter is installed here (the
 * others are skipped, their names say why), success, failing exit values, argv (params and shard), output
 * in the run's log, timeout and kill with no process of the script left behind, source versions, and the
 * safety rules (off by default, refused without an access token, Groovy refused).
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { ExecutorConfig, Job } from "../src/index.js"
import { MockAdmin } from "../src/testing.js"
import { logOf, survivors, waitForLog } from "./helpers/runs.js"

const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-glue-"))
afterAll(() => Fs.rmSync(tmp, { recursive: true, force: true }))
let dirs = 0
const freshLogPath = () => Path.join(tmp, `logs-${++dirs}`)

const token = "glue-test-token"
const jobs = Job.registry(Job.make({ name: "bean", run: Effect.succeed("bean ran") }))

/** An executor with scripts on (and a token), and a mock admin over HTTP; `logPath` for the tests to look in. */
const scriptEnv = (logPath = freshLogPath()) =>
  MockAdmin.layerHttp(jobs, { accessToken: token, glueScripts: true, logPath, logRetentionDays: 0 })

const installed = (command: string) =>
  ChildProcess.spawnSync(command, ["--version"], { stdio: "ignore", timeout: 10_000 }).error === undefined

// Per type: `source` prints its argv joined by "|" and exits with the value given as params; `sleeper` says
// its pid and sleeps a minute (for timeout and kill).
const scripts: ReadonlyArray<{ glueType: string; command: string; source: string; sleeper: string }> = [
  {
    glueType: "GLUE_SHELL",
    command: "bash",
    source: "echo \"argv:$1|$2|$3\"\necho \"to stderr\" >&2\nexit $1\n",
    sleeper: "echo \"pid $$\"\nsleep 60\n"
  },
  {
    glueType: "GLUE_PYTHON",
    command: "python3",
    source:
      "import sys\nprint('argv:' + '|'.join(sys.argv[1:]))\nsys.stderr.write('to stderr\\n')\nsys.exit(int(sys.argv[1]))\n",
    sleeper: "import os, time\nprint('pid', os.getpid(), flush=True)\ntime.sleep(60)\n"
  },
  {
    glueType: "GLUE_PYTHON2",
    command: "python",
    source:
      "import sys\nprint('argv:' + '|'.join(sys.argv[1:]))\nsys.stderr.write('to stderr\\n')\nsys.exit(int(sys.argv[1]))\n",
    sleeper: "import os, sys, time\nsys.stdout.write('pid %d\\n' % os.getpid())\nsys.stdout.flush()\ntime.sleep(60)\n"
  },
  {
    glueType: "GLUE_NODEJS",
    command: "node",
    source:
      "console.log('argv:' + process.argv.slice(2).join('|'))\nconsole.error('to stderr')\nprocess.exitCode = Number(process.argv[2])\n",
    sleeper: "console.log('pid ' + process.pid)\nsetTimeout(() => {}, 60000)\n"
  },
  {
    glueType: "GLUE_PHP",
    command: "php",
    source:
      "<?php\necho 'argv:' . implode('|', array_slice($argv, 1)) . \"\\n\";\nfwrite(STDERR, \"to stderr\\n\");\nexit((int)$argv[1]);\n",
    sleeper: "<?php\necho 'pid ' . getmypid() . \"\\n\";\nflush();\nsleep(60);\n"
  },
  {
    glueType: "GLUE_POWERSHELL",
    command: "pwsh",
    source: "Write-Output ('argv:' + ($args -join '|'))\n[Console]::Error.WriteLine('to stderr')\nexit [int]$args[0]\n",
    sleeper: "Write-Output \"pid $PID\"\nStart-Sleep -Seconds 60\n"
  }
]

describe("GLUE scripts", () => {
  for (const { command, glueType, sleeper, source } of scripts) {
    const present = installed(command)
    it.live.skipIf(!present)(
      `${glueType} (${command}${
        present ? "" : ": not installed on this machine, skipped"
      }): exit 0 is success, exit 4 is \`script exit value(4) is failed\`, argv is [file, params, shardIndex, shardTotal], output is in the log`,
      () =>
        Effect.gen(function*() {
          const admin = yield* MockAdmin.MockAdmin
          const common = { handler: "", glueType, glueSource: source, glueUpdatetime: 1700000000000, jobId: 1 }
          const ok = yield* admin.run({ ...common, params: "0", shardIndex: 1, shardTotal: 3 })
          assert.strictEqual(ok.result.handleCode, 200)
          assert.isUndefined(ok.result.handleMsg)
          const log = yield* logOf(admin, ok.triggered.logId)
          assert.include(log, "argv:0|1|3")
          assert.include(log, "to stderr")
          assert.match(log, /----------- script file:.*gluesource\/1_1700000000000\.\w+ -----------/)

          const failed = yield* admin.run({ ...common, params: "4" })
          assert.strictEqual(failed.result.handleCode, 500)
          assert.strictEqual(failed.result.handleMsg, "script exit value(4) is failed")
          assert.include(yield* logOf(admin, failed.triggered.logId), "argv:4|0|1")
        }).pipe(Effect.provide(scriptEnv())),
      30_000
    )

    it.live.skipIf(!present)(
      `${glueType} (${command}${
        present ? "" : ": not installed on this machine, skipped"
      }): a timeout (502) and a kill (500) each end the script, and no process of it is left`,
      () =>
        Effect.gen(function*() {
          const admin = yield* MockAdmin.MockAdmin
          const common = { handler: "", glueType, glueSource: sleeper, glueUpdatetime: 1700000000000, jobId: 2 }
          const timed = yield* admin.trigger({ ...common, timeoutSeconds: 1 })
          const [, timedPid] = yield* waitForLog(admin, timed.logId, /pid (\d+)/)
          const timedOut = yield* admin.result(timed.logId, "10 seconds")
          assert.deepStrictEqual([timedOut.handleCode, timedOut.handleMsg], [502, "job execute timeout "])
          assert.deepStrictEqual(yield* survivors([Number(timedPid)]), [])

          const killed = yield* admin.trigger(common)
          const [, killedPid] = yield* waitForLog(admin, killed.logId, /pid (\d+)/)
          yield* admin.kill(common.jobId)
          const result = yield* admin.result(killed.logId, "10 seconds")
          assert.deepStrictEqual([result.handleCode, result.handleMsg], [
            500,
            "scheduling center kill job. [job running, killed]"
          ])
          assert.deepStrictEqual(yield* survivors([Number(killedPid)]), [])
        }).pipe(Effect.provide(scriptEnv())),
      30_000
    )
  }

  it.live("the params are one argv entry, spaces and quotes kept (protocol case 32)", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { result, triggered } = yield* admin.run({
        handler: "",
        glueType: "GLUE_SHELL",
        glueSource: "echo \"$1|$2|$3\"; exit 0",
        params: "a b \"c\"",
        shardIndex: 1,
        shardTotal: 3
      })
      assert.strictEqual(result.handleCode, 200)
      assert.include(yield* logOf(admin, triggered.logId), "a b \"c\"|1|3")
    }).pipe(Effect.provide(scriptEnv())))

  it.live("a timeout ends the script and what it started (502, no process left)", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { logId } = yield* admin.trigger({
        handler: "",
        glueType: "GLUE_SHELL",
        glueSource: "sleep 60 &\necho \"pids $$ $!\"\nwait\n",
        timeoutSeconds: 1
      })
      const [, shell, child] = yield* waitForLog(admin, logId, /pids (\d+) (\d+)/)
      const result = yield* admin.result(logId, "10 seconds")
      assert.strictEqual(result.handleCode, 502)
      assert.strictEqual(result.handleMsg, "job execute timeout ")
      assert.deepStrictEqual(yield* survivors([Number(shell), Number(child)]), [])
    }).pipe(Effect.provide(scriptEnv())))

  it.live("a kill ends the script and what it started, even when they ignore SIGTERM", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { jobId, logId } = yield* admin.trigger({
        handler: "",
        glueType: "GLUE_SHELL",
        // Ignored signals stay ignored in children: the sleeps ignore SIGTERM too. SIGKILL must follow.
        glueSource: "trap '' TERM\nsleep 60 &\necho \"pids $$ $!\"\nwait\n"
      })
      const [, shell, child] = yield* waitForLog(admin, logId, /pids (\d+) (\d+)/)
      const killedAt = Date.now()
      assert.strictEqual((yield* admin.kill(jobId)).code, 200)
      const result = yield* admin.result(logId, "10 seconds")
      assert.deepStrictEqual([result.handleCode, result.handleMsg], [
        500,
        "scheduling center kill job. [job running, killed]"
      ])
      assert.isBelow(Date.now() - killedAt, 5_000)
      assert.deepStrictEqual(yield* survivors([Number(shell), Number(child)]), [])
    }).pipe(Effect.provide(scriptEnv())))

  it.live("a new glueUpdatetime replaces the job's lane and its source file (protocol case 18)", () =>
    Effect.gen(function*() {
      const logPath = freshLogPath()
      return yield* Effect.gen(function*() {
        const admin = yield* MockAdmin.MockAdmin
        const v1 = {
          handler: "",
          glueType: "GLUE_SHELL",
          glueSource: "sleep 0.5; echo v1",
          glueUpdatetime: 1,
          jobId: 7
        }
        const running = yield* admin.trigger(v1)
        yield* waitForLog(admin, running.logId, /script file/)
        const queued = yield* admin.trigger(v1)
        const v2 = yield* admin.trigger({ ...v1, glueSource: "echo v2", glueUpdatetime: 2 })
        assert.deepStrictEqual(
          [(yield* admin.result(running.logId)).handleMsg, (yield* admin.result(queued.logId)).handleMsg],
          [
            "change job source or glue type, and terminate the old job thread. [job running, killed]",
            "change job source or glue type, and terminate the old job thread. [job not executed, in the job queue, killed.]"
          ]
        )
        assert.strictEqual((yield* admin.result(v2.logId)).handleCode, 200)
        assert.include(yield* logOf(admin, v2.logId), "v2")
        assert.deepStrictEqual(Fs.readdirSync(Path.join(logPath, "gluesource")), ["7_2.sh"])
        // The same version again reuses the lane: no replacement, the file stays.
        assert.strictEqual(
          (yield* admin.run({ ...v1, glueSource: "echo v2", glueUpdatetime: 2 })).result.handleCode,
          200
        )
      }).pipe(Effect.provide(scriptEnv(logPath)))
    }))

  it.live("a script that leaves a process in the background holding its output still ends", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const started = Date.now()
      const { result, triggered } = yield* admin.run({
        handler: "",
        glueType: "GLUE_SHELL",
        glueSource: "sleep 30 &\necho \"daemon $!\"\nexit 0\n"
      })
      assert.strictEqual(result.handleCode, 200)
      assert.isBelow(Date.now() - started, 10_000)
      const log = yield* logOf(admin, triggered.logId)
      assert.include(log, "still holds its output")
      process.kill(Number(/daemon (\d+)/.exec(log)![1]), "SIGKILL")
    }).pipe(Effect.provide(scriptEnv())))

  it.live("a missing interpreter is exit value -1, and the log says why", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const saved = process.env.PATH
      // The executor looks interpreters up in its PATH when it starts one.
      process.env.PATH = "/nonexistent"
      const outcome = yield* admin.run({ handler: "", glueType: "GLUE_SHELL", glueSource: "exit 0" }).pipe(
        Effect.ensuring(Effect.sync(() => process.env.PATH = saved))
      )
      assert.strictEqual(outcome.result.handleMsg, "script exit value(-1) is failed")
      assert.include(yield* logOf(admin, outcome.triggered.logId), "cannot start the script")
    }).pipe(Effect.provide(scriptEnv())))

  it.live("scripts are off by default: refused with a clear message, and no result follows", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { logId, reply } = yield* admin.trigger({ handler: "", glueType: "GLUE_SHELL", glueSource: "echo hi" })
      assert.deepStrictEqual(reply, {
        code: 500,
        msg:
          "glueType[GLUE_SHELL] is not enabled on this executor (GLUE scripts are off; XXL_JOB_EXECUTOR_GLUE_SCRIPTS=on turns them on)."
      })
      assert.isTrue(Either.isLeft(yield* Effect.either(admin.result(logId, "200 millis"))))
    }).pipe(Effect.provide(MockAdmin.layerHttp(jobs, { logPath: freshLogPath() }))))

  it.live("GLUE_GROOVY is refused (no JVM here), with scripts on or off (protocol case 35)", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { reply } = yield* admin.trigger({ handler: "", glueType: "GLUE_GROOVY", glueSource: "class X {}" })
      assert.deepStrictEqual(reply, {
        code: 500,
        msg: "glueType[GLUE_GROOVY] is not supported by this executor (Groovy jobs need a JVM)."
      })
    }).pipe(Effect.provide(scriptEnv())))

  it.effect("turning scripts on without an access token is refused at start, naming the setting", () =>
    Effect.gen(function*() {
      const inCode = yield* Effect.flip(ExecutorConfig.make({ glueScripts: true }))
      assert.strictEqual(inCode.setting, "glueScripts")
      assert.include(inCode.message, "access token")
      const fromEnv = yield* Effect.flip(
        ExecutorConfig.fromEnv().pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["XXL_JOB_EXECUTOR_GLUE_SCRIPTS", "on"]])))
        )
      )
      assert.strictEqual(fromEnv.setting, "XXL_JOB_EXECUTOR_GLUE_SCRIPTS")
      assert.include(fromEnv.message, "XXL_JOB_ACCESS_TOKEN")
      const nonsense = yield* Effect.flip(ExecutorConfig.make({ glueScripts: "yes" as "on", accessToken: "t" }))
      assert.include(nonsense.message, "expected \"on\" or \"off\"")
      // And the executor itself does not start.
      const built = yield* Effect.either(Layer.build(MockAdmin.layer(jobs, { glueScripts: true })).pipe(Effect.scoped))
      assert.isTrue(Either.isLeft(built))
    }))
})
