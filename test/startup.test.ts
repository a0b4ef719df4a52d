/**
 * What a person sees when the executor starts with settings that cannot work here: a log path this user
 * cannot write, a port in use, each as one line naming the setting (also under `NodeRuntime.runMain`, in a
 * process of its own); and the warnings at start.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { Executor, ExecutorConfig, Job } from "../src/index.js"
import { isLoopback, serverWarnings } from "../src/internal/startupChecks.js"
import { MockAdmin } from "../src/testing.js"

const jobs = Job.registry(Job.make({ name: "hello", run: Effect.succeed("hello") }))

/** A directory of the test's own, removed after. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-startup-"))),
  (dir) =>
    Effect.sync(() => {
      Fs.chmodSync(dir, 0o700)
      Fs.rmSync(dir, { recursive: true, force: true })
    })
)

/** The error an executor on loopback with `options` fails to start with. */
const startFailure = (options: ExecutorConfig.Options) =>
  Effect.flip(
    Layer.build(
      Executor.layer(jobs).pipe(
        Layer.provide(ExecutorConfig.layer({ host: "127.0.0.1", port: 0, logRetentionDays: 0, ...options }))
      )
    ).pipe(Effect.scoped)
  )

/** A port on 127.0.0.1 something else holds for the test's scope. */
const portInUse = Effect.acquireRelease(
  Effect.async<Net.Server>((resume) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))

const lastWords = ": set it to a directory this user can write (run logs and undelivered results are kept there)"

describe("the log path is checked before any file is opened", () => {
  it.scoped("a file where a folder must be: one line naming XXL_JOB_EXECUTOR_LOGPATH, and nothing written", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "file")
      Fs.writeFileSync(file, "")
      const under = yield* startFailure({ logPath: Path.join(file, "logs") })
      assert.strictEqual(under._tag, "ExecutorConfigError")
      assert.strictEqual(
        under.message,
        `XXL_JOB_EXECUTOR_LOGPATH (logPath): cannot create ${file}/logs (${file} is a file, not a directory)${lastWords}`
      )
      // Printed, it is that one line: no frames of our code.
      assert.strictEqual(under.stack, `ExecutorConfigError: ${under.message}`)
      const itself = yield* startFailure({ logPath: file })
      assert.strictEqual(
        itself.message,
        `XXL_JOB_EXECUTOR_LOGPATH (logPath): ${file} is a file, not a directory${lastWords}`
      )
      assert.deepStrictEqual(Fs.readdirSync(dir), ["file"])
    }))

  const root = process.getuid?.() === 0
  /** As root, whether a read-only tmpfs cannot be mounted (not in every container). */
  const cannotMount = root && (() => {
    const probe = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-startup-probe-"))
    try {
      ChildProcess.execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", probe], { stdio: "pipe" })
      ChildProcess.execFileSync("umount", [probe], { stdio: "pipe" })
      return false
    } catch {
      return true
    } finally {
      Fs.rmSync(probe, { recursive: true, force: true })
    }
  })()
  it.scoped.skipIf(cannotMount)(
    `a folder this user cannot write: ${
      root ? "read-only file system (as root, on a read-only tmpfs)" : "permission denied"
    }${cannotMount ? " [skipped: as root, and no tmpfs can be mounted here]" : ""}`,
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const locked = Path.join(dir, "locked")
        Fs.mkdirSync(locked)
        let reason = "permission denied"
        if (root) {
          // Root may write anywhere permissions say it may not: only a read-only mount stops it.
          yield* Effect.acquireRelease(
            Effect.sync(() =>
              ChildProcess.execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", locked])
            ),
            () => Effect.sync(() => ChildProcess.execFileSync("umount", ["-l", locked]))
          )
          reason = "read-only file system"
        } else {
          Fs.chmodSync(locked, 0o500)
          yield* Effect.addFinalizer(() => Effect.sync(() => Fs.chmodSync(locked, 0o700)))
        }
        const inIt = yield* startFailure({ logPath: locked })
        assert.strictEqual(
          inIt.message,
          `XXL_JOB_EXECUTOR_LOGPATH (logPath): cannot write in ${locked} (${reason})${lastWords}`
        )
        const under = yield* startFailure({ logPath: Path.join(locked, "a", "b") })
        assert.strictEqual(
          under.message,
          `XXL_JOB_EXECUTOR_LOGPATH (logPath): cannot create ${locked}/a/b (${reason} in ${locked})${lastWords}`
        )
      })
  )
})

describe("a port that cannot be bound", () => {
  it.scoped("in use: one line naming XXL_JOB_EXECUTOR_PORT; the metrics port names its own variable", () =>
    Effect.gen(function*() {
      const logPath = yield* tempDir
      const taken = yield* portInUse
      const executor = yield* startFailure({ logPath, port: taken })
      assert.strictEqual(executor._tag, "ExecutorConfigError")
      assert.strictEqual(
        executor.message,
        `XXL_JOB_EXECUTOR_PORT (port): port ${taken} on 127.0.0.1 is already in use (another executor?): stop that process or set a free port`
      )
      assert.strictEqual(executor.stack, `ExecutorConfigError: ${executor.message}`)
      const metrics = yield* startFailure({ logPath, metrics: taken })
      assert.strictEqual(
        metrics.message,
        `XXL_JOB_EXECUTOR_METRICS (metrics): the metrics port ${taken} on 127.0.0.1 is already in use (another executor?): stop that process or set a free port, or "on" to serve metrics on the executor's port`
      )
    }))
})

describe("a port in use, with results an earlier process left and the admin away", () => {
  it.scoped("fails at once, before the outbox starts sending them", () =>
    Effect.gen(function*() {
      const logPath = yield* tempDir
      Fs.mkdirSync(Path.join(logPath, "callback-outbox"))
      const left = `A {"id":1,"at":${Date.now()},"item":{"logId":7,"logDateTim":${Date.now()},"handleCode":200}}\n`
      Fs.writeFileSync(Path.join(logPath, "callback-outbox", "journal.log"), left)
      const taken = yield* portInUse
      const started = Date.now()
      const failure = yield* startFailure({
        logPath,
        port: taken,
        adminAddresses: "http://127.0.0.1:1/xxl-job-admin",
        appName: "left-results"
      })
      assert.match(failure.message, /is already in use/)
      // Not after the outbox's 10 s closing grace for the result it would have started sending.
      assert.isBelow(Date.now() - started, 5_000)
      assert.strictEqual(Fs.readFileSync(Path.join(logPath, "callback-outbox", "journal.log"), "utf8"), left)
    }), 20_000)
})

describe("warnings at start", () => {
  const settingsOf = (options: ExecutorConfig.Options) => Effect.runSync(ExecutorConfig.make(options))
  const admin = "http://127.0.0.1:8080/xxl-job-admin"

  it("no access token on an interface others can reach; a registered address the server does not listen on", () => {
    assert.deepStrictEqual(serverWarnings(settingsOf({ host: "0.0.0.0" }), 9999, "http://10.0.0.5:9999/"), [
      "no access token while listening on 0.0.0.0: anyone who can reach port 9999 can run this executor's jobs; set XXL_JOB_ACCESS_TOKEN (accessToken), and the same token in the admin"
    ])
    assert.deepStrictEqual(
      serverWarnings(
        settingsOf({ host: "0.0.0.0", accessToken: "t", appName: "a", adminAddresses: admin }),
        9999,
        "http://10.0.0.5:9999/"
      ),
      []
    )
    assert.deepStrictEqual(
      serverWarnings(
        settingsOf({ host: "127.0.0.1", appName: "a", adminAddresses: admin }),
        9999,
        "http://10.0.0.5:9999/"
      ),
      [
        "listening on 127.0.0.1 only, but registered with the admin as http://10.0.0.5:9999/: the admin's calls to that address will not reach this executor (unless a proxy on this machine forwards them); set XXL_JOB_EXECUTOR_HOST (host) to 0.0.0.0, or, with the admin on this machine, XXL_JOB_EXECUTOR_IP (ip) to 127.0.0.1"
      ]
    )
    const address = "http://executor.example:9999/"
    assert.deepStrictEqual(
      serverWarnings(settingsOf({ host: "::1", appName: "a", adminAddresses: admin, address }), 9999, address),
      [
        `listening on ::1 only, but registered with the admin as ${address}: the admin's calls to that address will not reach this executor (unless a proxy on this machine forwards them); set XXL_JOB_EXECUTOR_HOST (host) to 0.0.0.0, or, with the admin on this machine, XXL_JOB_EXECUTOR_ADDRESS (address) to a loopback URL`
      ]
    )
    // Loopback both ways, or no admin to call: nothing to say.
    assert.deepStrictEqual(
      serverWarnings(
        settingsOf({ host: "localhost", appName: "a", adminAddresses: admin }),
        9999,
        "http://[::1]:9999/"
      ),
      []
    )
    assert.deepStrictEqual(serverWarnings(settingsOf({ host: "127.0.0.1" }), 9999, "http://10.0.0.5:9999/"), [])
  })

  it("loopback is 127.0.0.0/8, ::1 (IPv4-mapped too) and localhost", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1", "localhost", "LOCALHOST"]) {
      assert.isTrue(isLoopback(host), host)
    }
    for (const host of ["0.0.0.0", "::", "10.0.0.5", "128.0.0.1", "executor.example", "[fe80::1]"]) {
      assert.isFalse(isLoopback(host), host)
    }
  })

  it.scopedLive("an executor on loopback registered as another address warns once, after its start line", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ logLevel, message }) =>
          void lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
        )
      )
      const mock = yield* MockAdmin.serve()
      const logPath = yield* tempDir
      const executor = yield* Layer.build(
        Executor.layer(jobs).pipe(
          Layer.provide(ExecutorConfig.layer({
            appName: "warned",
            adminAddresses: mock.url,
            host: "127.0.0.1",
            ip: "10.0.0.5",
            port: 0,
            logPath,
            logRetentionDays: 0
          }))
        )
      ).pipe(Effect.provide(capture))
      const { address } = yield* Effect.provide(Executor.Executor, executor)
      const started = lines.findIndex((line) => line.includes(`registering as ${address}`))
      const warnings = lines.filter((line) => line.startsWith("WARN"))
      assert.deepStrictEqual(warnings, [
        `WARN listening on 127.0.0.1 only, but registered with the admin as ${address}: the admin's calls to that address will not reach this executor (unless a proxy on this machine forwards them); set XXL_JOB_EXECUTOR_HOST (host) to 0.0.0.0, or, with the admin on this machine, XXL_JOB_EXECUTOR_IP (ip) to 127.0.0.1`
      ])
      assert.isTrue(started >= 0 && lines.indexOf(warnings[0]) > started, lines.join("\n"))
    }))
})

describe("under NodeRuntime.runMain, as users run it", () => {
  const fixture = Path.join(import.meta.dirname, "fixtures", "executor.ts")
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

  /** The fixture executor started with `env` (and no other XXL_JOB_* variable) in `cwd`: its output and exit code. */
  const start = (cwd: string, env: Record<string, string>) =>
    Effect.promise(() =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const inherited = Object.fromEntries(
          Object.entries(process.env).filter(([name]) => !/^(XXL_JOB_|OTEL_)/i.test(name))
        )
        const child = ChildProcess.spawn(process.execPath, ["--import", tsx, fixture], {
          cwd,
          env: { ...inherited, XXL_JOB_ADMIN_ADDRESSES: "http://127.0.0.1:1/xxl-job-admin", ...env },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let out = ""
        child.stdout.on("data", (chunk) => out += chunk)
        child.stderr.on("data", (chunk) => out += chunk)
        child.on("exit", (code) => resolve({ code, out }))
      })
    )

  /** The output without the logger's timestamps. */
  const linesOf = (out: string) => out.trim().split("\n").map((line) => line.replace(/^\[[\d:.]+\] /, ""))

  it.scopedLive(
    "a bad value prints one line, after a warning naming a misspelled variable's nearest name",
    () =>
      Effect.gen(function*() {
        const cwd = yield* tempDir
        const { code, out } = yield* start(cwd, {
          XXL_JOB_EXECUTOR_APPNAME: "one-line",
          XXL_JOB_EXECUTOR_PORT: "abc",
          XXL_JOB_EXECUTOR_PROT: "9998"
        })
        assert.strictEqual(code, 1, out)
        assert.deepStrictEqual(linesOf(out), [
          "WARN (#1): XXL_JOB_EXECUTOR_PROT is not a variable the executor reads, so it is ignored: did you mean XXL_JOB_EXECUTOR_PORT?",
          "ERROR (#1):",
          "  ExecutorConfigError: XXL_JOB_EXECUTOR_PORT: expected an integer, got \"abc\""
        ])
        // The process wrote nothing where it was started.
        assert.deepStrictEqual(Fs.readdirSync(cwd), [])
      }),
    20_000
  )

  it.scopedLive(
    "with XXL_JOB_EXECUTOR_LOG_FORMAT=json, each of its lines is printed once, as JSON",
    () =>
      Effect.gen(function*() {
        const { code, out } = yield* start(yield* tempDir, {
          XXL_JOB_EXECUTOR_APPNAME: "json-lines",
          XXL_JOB_EXECUTOR_PORT: "0",
          XXL_JOB_EXECUTOR_HOST: "127.0.0.1",
          XXL_JOB_EXECUTOR_IP: "127.0.0.1",
          XXL_JOB_EXECUTOR_LOGPATH: yield* tempDir,
          XXL_JOB_EXECUTOR_LOG_FORMAT: "json",
          // A misspelled variable: its warning comes in the same format.
          XXL_JOB_EXECUTOR_PROT: "1",
          // Stops itself once started (the fixture's switch), as a SIGTERM would.
          STOP_AFTER_START: "1"
        })
        assert.strictEqual(code, 0, out)
        const lines = out.trim().split("\n")
        const messages = lines.map((line) => (JSON.parse(line) as { message: unknown }).message)
        assert.strictEqual(messages.filter((m) => String(m).startsWith("executor \"json-lines\"")).length, 1, out)
        assert.strictEqual(messages.filter((m) => String(m).startsWith("XXL_JOB_EXECUTOR_PROT is")).length, 1, out)
      }),
    20_000
  )

  it.scopedLive("a log path that cannot be written prints one line too", () =>
    Effect.gen(function*() {
      const cwd = yield* tempDir
      const file = Path.join(yield* tempDir, "file")
      Fs.writeFileSync(file, "")
      const { code, out } = yield* start(cwd, {
        XXL_JOB_EXECUTOR_APPNAME: "one-line",
        XXL_JOB_EXECUTOR_PORT: "0",
        XXL_JOB_EXECUTOR_LOGPATH: Path.join(file, "logs")
      })
      assert.strictEqual(code, 1, out)
      assert.deepStrictEqual(linesOf(out), [
        "ERROR (#1):",
        `  ExecutorConfigError: XXL_JOB_EXECUTOR_LOGPATH (logPath): cannot create ${file}/logs (${file} is a file, not a directory)${lastWords}`
      ])
    }), 20_000)
})
