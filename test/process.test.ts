/**
 * The executor as a real process, over real HTTP on loopback against the mock admin: an admin outage and
 * recovery, SIGKILL with results still undelivered and a restart, and a SIGTERM drain. Each test counts
 * results triggered vs delivered.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Wire } from "../src/index.js"
import { MockAdmin } from "../src/testing.js"
import { alive } from "./helpers/runs.js"
import { waitUntil } from "./helpers/wait.js"

const fixture = Path.join(import.meta.dirname, "fixtures", "executor.ts")

/** The outage: the admin answers callbacks `{"code":500}` (registrations still go through). */
const refuseCallbacks = (admin: MockAdmin.Service) =>
  admin.setFault(MockAdmin.Fault.Refuse({ msg: "admin database is down" }), "callback")

/** The addresses that registered (`registry`, one per beat) or said goodbye (`registryRemove`), in order. */
const addresses = (admin: MockAdmin.Service, kind: "registry" | "registryRemove") =>
  Effect.map(admin.registrations, (list) => list.filter((r) => r.kind === kind).map((r) => r.address))
const registered = (admin: MockAdmin.Service) => addresses(admin, "registry")

/** Callback requests the admin got, refused ones included. */
const callbackAttempts = (admin: MockAdmin.Service) =>
  Effect.map(admin.requests, (list) => list.filter((request) => request.endpoint === "callback").length)

/** The results the admin took, by logId. */
const delivered = (admin: MockAdmin.Service) =>
  Effect.map(
    admin.callbacks,
    (items) => new Map(items.map((item) => [item.logId, { handleCode: item.handleCode, handleMsg: item.handleMsg }]))
  )

/**
 * Starts the fixture executor (killed with the test's scope); gives its registered address once it registered.
 * `command` starts it another way (a terminal, a wrapper, npm), the fixture's path or none following it.
 */
const startExecutor = (
  admin: MockAdmin.Service,
  logPath: string,
  grace = "10",
  command: ReadonlyArray<string> = [process.execPath, "--import", "tsx", fixture]
) =>
  Effect.gen(function*() {
    const before = (yield* registered(admin)).length
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn(command[0], command.slice(1), {
          cwd: Path.join(import.meta.dirname, ".."),
          env: {
            ...process.env,
            XXL_JOB_ADMIN_ADDRESSES: admin.url,
            XXL_JOB_EXECUTOR_APPNAME: "process-test",
            XXL_JOB_EXECUTOR_IP: "127.0.0.1",
            XXL_JOB_EXECUTOR_HOST: "127.0.0.1",
            XXL_JOB_EXECUTOR_PORT: "0",
            XXL_JOB_EXECUTOR_LOGPATH: logPath,
            XXL_JOB_EXECUTOR_SHUTDOWN_GRACE_SECONDS: grace
          },
          stdio: ["pipe", "pipe", "pipe"]
        })
      ),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    let output = ""
    child.stdout.on("data", (chunk) => output += chunk)
    child.stderr.on("data", (chunk) => output += chunk)
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    yield* waitUntil(
      "the executor to register",
      Effect.map(registered(admin), (list) => list.length > before),
      20_000
    )
    const address = (yield* registered(admin)).at(-1)!
    return { child, address, exited: Effect.promise(() => exited), output: () => output }
  })

/** Triggers `handler` on the executor at `address`; gives the reply's code. */
const trigger = (
  admin: MockAdmin.Service,
  address: string,
  logId: number,
  handler: string,
  params: string,
  jobId = logId
) => Effect.map(admin.trigger({ executor: address, logId, jobId, handler, params }), ({ reply }) => reply.code)

/** A log directory of the test's own, removed after. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-proc-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

describe("executor process", () => {
  it.scopedLive(
    "admin outage, then SIGKILL with results undelivered, then a restart: every result is delivered",
    () =>
      Effect.gen(function*() {
        const admin = yield* MockAdmin.serve()
        const logPath = yield* tempDir
        // Outage: the admin refuses callbacks while triggers keep coming.
        yield* refuseCallbacks(admin)
        const first = yield* startExecutor(admin, logPath)
        const triggered: Array<number> = []
        for (let logId = 1; logId <= 20; logId++) {
          assert.strictEqual(yield* trigger(admin, first.address, logId, "echo", `r${logId}`), 200)
          triggered.push(logId)
        }
        yield* waitUntil("callbacks to be refused", Effect.map(callbackAttempts(admin), (n) => n >= 1), 15_000)
        // Recovery without a restart: the admin comes back, the executor delivers on its next retry.
        yield* admin.clearFault()
        yield* waitUntil("delivery after the outage", Effect.map(delivered(admin), (d) => d.size === 20), 15_000)
        // Down again; more results; the process is killed without a chance to flush.
        yield* refuseCallbacks(admin)
        for (let logId = 21; logId <= 40; logId++) {
          assert.strictEqual(yield* trigger(admin, first.address, logId, "echo", `r${logId}`), 200)
          triggered.push(logId)
        }
        const attempts = yield* callbackAttempts(admin)
        yield* waitUntil(
          "the new results to be tried",
          Effect.map(callbackAttempts(admin), (n) => n > attempts),
          15_000
        )
        first.child.kill("SIGKILL")
        yield* first.exited
        assert.strictEqual((yield* delivered(admin)).size, 20)
        // A new process on the same log path sends what the killed one left.
        yield* admin.clearFault()
        const second = yield* startExecutor(admin, logPath)
        yield* waitUntil("the killed process's results", Effect.map(delivered(admin), (d) => d.size === 40), 15_000)
        const results = yield* delivered(admin)
        assert.deepStrictEqual([...results.keys()].sort((a, b) => a - b), triggered)
        for (const logId of triggered) assert.deepStrictEqual(results.get(logId)?.handleMsg, `r${logId}`)
        second.child.kill("SIGTERM")
        assert.strictEqual(yield* second.exited, 0)
      }),
    60_000
  )

  it.scopedLive(
    "SIGKILL with runs in flight and queued, then a restart: every accepted trigger gets exactly one result",
    () =>
      Effect.gen(function*() {
        const admin = yield* MockAdmin.serve()
        const logPath = yield* tempDir
        const first = yield* startExecutor(admin, logPath)
        // Nine runs in flight (jobIds 1-9), and three triggers queued behind three of them.
        for (let logId = 1; logId <= 9; logId++) {
          assert.strictEqual(yield* trigger(admin, first.address, logId, "sleep", "60000"), 200)
        }
        for (let logId = 10; logId <= 12; logId++) {
          assert.strictEqual(yield* trigger(admin, first.address, logId, "sleep", "60000", logId - 9), 200)
        }
        // Their runs have started, and that is in the journal (written within a few milliseconds).
        yield* Effect.sleep("300 millis")
        first.child.kill("SIGKILL")
        yield* first.exited
        assert.strictEqual((yield* admin.callbacks).length, 0)
        const restarted = Date.now()
        const second = yield* startExecutor(admin, logPath)
        yield* waitUntil("a result for every trigger", Effect.map(delivered(admin), (d) => d.size === 12), 15_000)
        const callbacks = yield* admin.callbacks
        assert.deepStrictEqual(
          callbacks.map((c) => c.logId).sort((a, b) => a - b),
          Array.from({ length: 12 }, (_, i) => i + 1)
        )
        for (const { handleCode, handleMsg, logId } of callbacks) {
          assert.strictEqual(handleCode, 500)
          assert.match(
            handleMsg ?? "",
            logId <= 9
              ? /^the executor stopped during this run and has restarted \(the trigger was accepted at .*\); the job may have partly run\. \[job running, killed\]$/
              : /^the executor stopped before this run started and has restarted \(the trigger was accepted at .*\)\. \[job not executed, in the job queue, killed\.\]$/
          )
        }
        assert.isBelow(Date.now() - restarted, 15_000)
        // The run's log says so too, for whoever reads it in the admin.
        const log = yield* admin.call(
          "/log",
          JSON.stringify({ logDateTim: Date.now(), logId: 1, fromLineNum: 1 }),
          second.address
        )
        assert.include((log.data as Wire.LogResult).logContent, "the executor stopped during this run")
        second.child.kill("SIGTERM")
        yield* second.exited
      }),
    60_000
  )

  it.scopedLive(
    "repeated SIGKILL under a steady load: no accepted trigger is left without a result",
    () =>
      Effect.gen(function*() {
        const admin = yield* MockAdmin.serve()
        const logPath = yield* tempDir
        let executor = yield* startExecutor(admin, logPath)
        const accepted = new Set<number>()
        const jobs = ["echo", "sleep"] as const
        for (let logId = 1; logId <= 300; logId++) {
          if (logId === 100 || logId === 200) {
            executor.child.kill("SIGKILL")
            yield* executor.exited
            executor = yield* startExecutor(admin, logPath)
          }
          const handler = jobs[logId % 2]
          const code = yield* trigger(
            admin,
            executor.address,
            logId,
            handler,
            handler === "echo" ? `r${logId}` : "20",
            logId % 25
          )
          if (code === 200) accepted.add(logId)
          yield* Effect.sleep("2 millis")
        }
        yield* waitUntil(
          "a result for every accepted trigger",
          Effect.map(delivered(admin), (d) => [...accepted].every((logId) => d.has(logId))),
          20_000
        )
        // Delivery is at least once: a result the admin took just before a crash may come again, so only
        // the wait above (every accepted trigger has a result) is the promise.
        assert.strictEqual(accepted.size, 300)
        executor.child.kill("SIGTERM")
        yield* executor.exited
      }),
    90_000
  )

  it.scopedLive(
    "one Ctrl-C in a terminal drains an executor run with the tsx command",
    () =>
      Effect.gen(function*() {
        const admin = yield* MockAdmin.serve()
        const tsx = Path.join(import.meta.dirname, "..", "node_modules", ".bin", "tsx")
        const terminal = ["python3", Path.join(import.meta.dirname, "fixtures", "terminal.py"), tsx, fixture]
        const executor = yield* startExecutor(admin, yield* tempDir, "10", terminal)
        assert.strictEqual(yield* trigger(admin, executor.address, 1, "sleep", "1500"), 200)
        yield* Effect.sleep("300 millis")
        executor.child.stdin!.write("CTRL-C\n")
        yield* executor.exited
        assert.match(executor.output(), /EXIT 0\s*$/, executor.output())
        // It drained: the run finished in the grace period and was reported, and the executor said goodbye.
        assert.deepStrictEqual((yield* delivered(admin)).get(1), { handleCode: 200, handleMsg: "slept 1500" })
        assert.deepStrictEqual(yield* addresses(admin, "registryRemove"), [executor.address])
      }),
    30_000
  )

  it.scopedLive(
    "the same SIGINT twice, 30 ms apart (a terminal's, then a wrapper's relay of it), counts once: it drains",
    () =>
      Effect.gen(function*() {
        const admin = yield* MockAdmin.serve()
        const executor = yield* startExecutor(admin, yield* tempDir)
        assert.strictEqual(yield* trigger(admin, executor.address, 1, "sleep", "1500"), 200)
        yield* Effect.sleep("200 millis")
        executor.child.kill("SIGINT")
        yield* Effect.sleep("30 millis")
        executor.child.kill("SIGINT")
        assert.strictEqual(yield* executor.exited, 0, executor.output())
        assert.deepStrictEqual((yield* delivered(admin)).get(1), { handleCode: 200, handleMsg: "slept 1500" })
        assert.deepStrictEqual(yield* addresses(admin, "registryRemove"), [executor.address])
      }),
    30_000
  )

  it.scopedLive(
    "SIGTERM to the npm process of npm start reaches the executor, which drains",
    () =>
      Effect.gen(function*() {
        const admin = yield* MockAdmin.serve()
        const executor = yield* startExecutor(admin, yield* tempDir, "10", ["npm", "start", "--silent"])
        const code = yield* Effect.map(
          admin.trigger({
            executor: executor.address,
            logId: 1,
            jobId: 4,
            handler: "sleep",
            params: "{\"seconds\":1}"
          }),
          ({ reply }) => reply.code
        )
        assert.strictEqual(code, 200)
        yield* Effect.sleep("200 millis")
        const node = Number(ChildProcess.execFileSync("pgrep", ["-P", String(executor.child.pid)]).toString().trim())
        executor.child.kill("SIGTERM")
        yield* executor.exited
        yield* waitUntil("the executor process to end", () => !alive(node), 10_000)
        assert.deepStrictEqual((yield* delivered(admin)).get(1), { handleCode: 200, handleMsg: "slept 1s" })
        assert.deepStrictEqual(yield* addresses(admin, "registryRemove"), [executor.address])
      }),
    60_000
  )

  it.scopedLive(
    "a second signal ends a long drain at once; the results the outbox held are sent at the next start",
    () =>
      Effect.gen(function*() {
        const admin = yield* MockAdmin.serve()
        const logPath = yield* tempDir
        yield* refuseCallbacks(admin)
        const first = yield* startExecutor(admin, logPath, "60")
        assert.strictEqual(yield* trigger(admin, first.address, 1, "echo", "kept"), 200)
        assert.strictEqual(yield* trigger(admin, first.address, 2, "sleep", "60000"), 200)
        yield* waitUntil("the result to be tried", Effect.map(callbackAttempts(admin), (n) => n >= 1), 15_000)
        first.child.kill("SIGTERM")
        // Past the window in which a repeat counts as the same signal (a wrapper's relay).
        yield* Effect.sleep("1 second")
        const started = Date.now()
        first.child.kill("SIGTERM")
        yield* first.exited
        assert.isBelow(Date.now() - started, 2000)
        yield* admin.clearFault()
        const second = yield* startExecutor(admin, logPath)
        yield* waitUntil("the kept result", Effect.map(delivered(admin), (d) => d.has(1)), 15_000)
        assert.deepStrictEqual((yield* delivered(admin)).get(1), { handleCode: 200, handleMsg: "kept" })
        second.child.kill("SIGTERM")
        yield* second.exited
      }),
    30_000
  )

  it.scopedLive(
    "SIGTERM drains: runs finish in the grace period or are killed, queued ones reported, before exit",
    () =>
      Effect.gen(function*() {
        const admin = yield* MockAdmin.serve()
        const executor = yield* startExecutor(admin, yield* tempDir, "1")
        assert.strictEqual(yield* trigger(admin, executor.address, 1, "sleep", "300", 7), 200)
        assert.strictEqual(yield* trigger(admin, executor.address, 2, "sleep", "60000", 8), 200)
        assert.strictEqual(yield* trigger(admin, executor.address, 3, "sleep", "60000", 8), 200)
        yield* Effect.sleep("100 millis")
        const started = Date.now()
        executor.child.kill("SIGTERM")
        const code = yield* executor.exited
        const elapsed = Date.now() - started
        assert.strictEqual(code, 0, executor.output())
        assert.isBelow(elapsed, 8000)
        assert.deepStrictEqual(yield* addresses(admin, "registryRemove"), [executor.address])
        const results = yield* delivered(admin)
        assert.deepStrictEqual(results.get(1), { handleCode: 200, handleMsg: "slept 300" })
        assert.deepStrictEqual(results.get(2), {
          handleCode: 500,
          handleMsg: "web container destroy and kill the job. [job running, killed]"
        })
        assert.deepStrictEqual(results.get(3), {
          handleCode: 500,
          handleMsg: "web container destroy and kill the job. [job not executed, in the job queue, killed.]"
        })
      }),
    30_000
  )

  it.scopedLive(
    "under tsx, an isolated job's TypeScript module loads in a worker thread and in a child process",
    () =>
      Effect.gen(function*() {
        const admin = yield* MockAdmin.serve()
        const executor = yield* startExecutor(admin, yield* tempDir)
        assert.strictEqual(yield* trigger(admin, executor.address, 1, "inThread", "a"), 200)
        assert.strictEqual(yield* trigger(admin, executor.address, 2, "inProcess", "b"), 200)
        yield* waitUntil("both results", Effect.map(delivered(admin), (d) => d.size === 2), 15_000)
        const results = yield* delivered(admin)
        assert.deepStrictEqual(results.get(1), {
          handleCode: 200,
          handleMsg: "typescript in a worker thread, params a"
        })
        assert.match(results.get(2)?.handleMsg ?? "", /^typescript in a process \d+, params b$/)
        executor.child.kill("SIGTERM")
        yield* executor.exited
      }),
    30_000
  )
})
