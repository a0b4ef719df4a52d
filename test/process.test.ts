/**
 * The executor as a real process, over real HTTP on loopback: an admin outage and recovery, SIGKILL with
 * results still undelivered and a restart, and a SIGTERM drain. Each test counts results triggered vs
 * delivered.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const fixture = Path.join(import.meta.dirname, "fixtures", "executor.ts")

/** A loopback admin whose callback answers can be switched between accepting and refusing. */
const startAdmin = () =>
  new Promise<{
    url: string
    accept: { value: boolean }
    delivered: Map<number, { handleCode: number; handleMsg?: string }>
    attempts: { value: number }
    registered: Array<string>
    removed: Array<string>
    close: () => void
  }>((resolve) => {
    const delivered = new Map<number, { handleCode: number; handleMsg?: string }>()
    const accept = { value: true }
    const attempts = { value: 0 }
    const registered: Array<string> = []
    const removed: Array<string> = []
    const server = Http.createServer((req, res) => {
      let body = ""
      req.on("data", (chunk) => body += chunk)
      req.on("end", () => {
        let answer = "{\"code\":200,\"msg\":null}"
        const json = body === "" ? undefined : JSON.parse(body)
        if (req.url?.endsWith("/api/registry")) registered.push(json.registryValue)
        if (req.url?.endsWith("/api/registryRemove")) removed.push(json.registryValue)
        if (req.url?.endsWith("/api/callback")) {
          attempts.value++
          if (accept.value) {
            for (const item of json) {
              delivered.set(item.logId, { handleCode: item.handleCode, handleMsg: item.handleMsg })
            }
          } else {
            answer = "{\"code\":500,\"msg\":\"admin database is down\"}"
          }
        }
        res.writeHead(200, { "content-type": "application/json" })
        res.end(answer)
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      resolve({
        url: `http://127.0.0.1:${port}/xxl-job-admin`,
        accept,
        delivered,
        attempts,
        registered,
        removed,
        close: () => {
          server.closeAllConnections()
          server.close()
        }
      })
    })
  })

const waitFor = async (what: string, check: () => boolean, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Starts the fixture executor; resolves with its registered address once it has registered. */
const startExecutor = async (admin: Awaited<ReturnType<typeof startAdmin>>, logPath: string, grace = "10") => {
  const before = admin.registered.length
  const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", fixture], {
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
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout.on("data", (chunk) => output += chunk)
  child.stderr.on("data", (chunk) => output += chunk)
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  await waitFor("the executor to register", () => admin.registered.length > before, 20_000)
  return { child, address: admin.registered[admin.registered.length - 1], exited, output: () => output }
}

const trigger = (address: string, logId: number, handler: string, params: string, jobId = logId) =>
  fetch(`${address}run`, {
    method: "POST",
    body: JSON.stringify({
      jobId,
      executorHandler: handler,
      executorParams: params,
      logId,
      logDateTime: Date.now(),
      glueType: "BEAN"
    })
  }).then((response) => response.json() as Promise<{ code: number; msg?: string }>)

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-proc-"))

/** A test with a loopback admin of its own, closed after. */
const withAdmin = (test: (admin: Awaited<ReturnType<typeof startAdmin>>) => Promise<void>) =>
  Effect.promise(async () => {
    const admin = await startAdmin()
    try {
      await test(admin)
    } finally {
      admin.close()
    }
  })

describe("executor process", () => {
  it.live(
    "admin outage, then SIGKILL with results undelivered, then a restart: every result is delivered",
    () =>
      withAdmin(async (admin) => {
        const logPath = tempDir()
        // Outage: the admin refuses callbacks while triggers keep coming.
        admin.accept.value = false
        const first = await startExecutor(admin, logPath)
        const triggered: Array<number> = []
        for (let logId = 1; logId <= 20; logId++) {
          assert.strictEqual((await trigger(first.address, logId, "echo", `r${logId}`)).code, 200)
          triggered.push(logId)
        }
        await waitFor("callbacks to be refused", () => admin.attempts.value >= 1)
        // Recovery without a restart: the admin comes back, the executor delivers on its next retry.
        admin.accept.value = true
        await waitFor("delivery after the outage", () => admin.delivered.size === 20)
        // Down again; more results; the process is killed without a chance to flush.
        admin.accept.value = false
        for (let logId = 21; logId <= 40; logId++) {
          assert.strictEqual((await trigger(first.address, logId, "echo", `r${logId}`)).code, 200)
          triggered.push(logId)
        }
        const attempts = admin.attempts.value
        await waitFor("the new results to be tried", () => admin.attempts.value > attempts)
        first.child.kill("SIGKILL")
        await first.exited
        assert.strictEqual(admin.delivered.size, 20)
        // A new process on the same log path sends what the killed one left.
        admin.accept.value = true
        const second = await startExecutor(admin, logPath)
        await waitFor("the killed process's results", () => admin.delivered.size === 40)
        assert.deepStrictEqual([...admin.delivered.keys()].sort((a, b) => a - b), triggered)
        for (const logId of triggered) assert.deepStrictEqual(admin.delivered.get(logId)?.handleMsg, `r${logId}`)
        second.child.kill("SIGTERM")
        assert.strictEqual(await second.exited, 0)
      }),
    60_000
  )

  it.live(
    "a second signal ends a long drain at once; the results the outbox held are sent at the next start",
    () =>
      withAdmin(async (admin) => {
        const logPath = tempDir()
        admin.accept.value = false
        const first = await startExecutor(admin, logPath, "60")
        assert.strictEqual((await trigger(first.address, 1, "echo", "kept")).code, 200)
        assert.strictEqual((await trigger(first.address, 2, "sleep", "60000")).code, 200)
        await waitFor("the result to be tried", () => admin.attempts.value >= 1)
        first.child.kill("SIGTERM")
        await new Promise((r) => setTimeout(r, 300))
        const started = Date.now()
        first.child.kill("SIGTERM")
        await first.exited
        assert.isBelow(Date.now() - started, 2000)
        admin.accept.value = true
        const second = await startExecutor(admin, logPath)
        await waitFor("the kept result", () => admin.delivered.has(1))
        assert.deepStrictEqual(admin.delivered.get(1), { handleCode: 200, handleMsg: "kept" })
        second.child.kill("SIGTERM")
        await second.exited
      }),
    30_000
  )

  it.live(
    "SIGTERM drains: runs finish in the grace period or are killed, queued ones reported, before exit",
    () =>
      withAdmin(async (admin) => {
        const executor = await startExecutor(admin, tempDir(), "1")
        assert.strictEqual((await trigger(executor.address, 1, "sleep", "300", 7)).code, 200)
        assert.strictEqual((await trigger(executor.address, 2, "sleep", "60000", 8)).code, 200)
        assert.strictEqual((await trigger(executor.address, 3, "sleep", "60000", 8)).code, 200)
        await new Promise((r) => setTimeout(r, 100))
        const started = Date.now()
        executor.child.kill("SIGTERM")
        const code = await executor.exited
        const elapsed = Date.now() - started
        assert.strictEqual(code, 0, executor.output())
        assert.isBelow(elapsed, 8000)
        assert.deepStrictEqual(admin.removed, [executor.address])
        assert.deepStrictEqual(admin.delivered.get(1), { handleCode: 200, handleMsg: "slept 300" })
        assert.deepStrictEqual(admin.delivered.get(2), {
          handleCode: 500,
          handleMsg: "web container destroy and kill the job. [job running, killed]"
        })
        assert.deepStrictEqual(admin.delivered.get(3), {
          handleCode: 500,
          handleMsg: "web container destroy and kill the job. [job not executed, in the job queue, killed.]"
        })
      }),
    30_000
  )

  it.live(
    "under tsx, an isolated job's TypeScript module loads in a worker thread and in a child process",
    () =>
      withAdmin(async (admin) => {
        const executor = await startExecutor(admin, tempDir())
        assert.strictEqual((await trigger(executor.address, 1, "inThread", "a")).code, 200)
        assert.strictEqual((await trigger(executor.address, 2, "inProcess", "b")).code, 200)
        await waitFor("both results", () => admin.delivered.size === 2)
        assert.deepStrictEqual(admin.delivered.get(1), {
          handleCode: 200,
          handleMsg: "typescript in a worker thread, params a"
        })
        assert.match(admin.delivered.get(2)?.handleMsg ?? "", /^typescript in a process \d+, params b$/)
        executor.child.kill("SIGTERM")
        await executor.exited
      }),
    30_000
  )
})
