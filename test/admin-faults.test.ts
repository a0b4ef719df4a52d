/**
 * A flaky admin, one fault at a time, over real HTTP on loopback: down (connection refused), too slow,
 * HTTP 502, an HTML login page, and `{"code":500}`. Through each, the executor keeps taking triggers; once the
 * admin is back, registration recovers by itself and every result is delivered.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Executor, ExecutorConfig, Job } from "../src/index.js"

type Fault = "refused" | "slow" | "http502" | "html" | "code500"

const Echo = Job.make({ name: "echo", run: Effect.map(Job.JobContext, (context) => context.params) })
const jobs = Job.registry(Echo)

/** A port that was free a moment ago. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = Http.createServer()
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as AddressInfo).port
      probe.close(() => resolve(port))
    })
  })

/** An admin on `port` that answers with `fault` until `healthy` is set (or, for "refused", until it starts). */
const faultyAdmin = (fault: Fault, port: number) => {
  const state = { healthy: false, callbackAttempts: 0, registrationsWhileHealthy: 0, delivered: new Set<number>() }
  const server = Http.createServer((req, res) => {
    let body = ""
    req.on("data", (chunk) => body += chunk)
    req.on("end", () => {
      if (req.url?.endsWith("/api/callback")) state.callbackAttempts++
      if (!state.healthy) {
        if (fault === "slow") return // never answers: the executor's 1 s admin timeout gives up
        if (fault === "http502") {
          res.writeHead(502)
          return res.end("Bad Gateway")
        }
        if (fault === "html") {
          res.writeHead(200, { "content-type": "text/html" })
          return res.end("<!DOCTYPE html><html><body><form action=\"/login\"></form></body></html>")
        }
        res.writeHead(200, { "content-type": "application/json" })
        return res.end("{\"code\":500,\"msg\":\"admin is sick\"}")
      }
      if (req.url?.endsWith("/api/callback")) {
        for (const item of JSON.parse(body) as Array<{ logId: number }>) state.delivered.add(item.logId)
      }
      if (req.url?.endsWith("/api/registry")) state.registrationsWhileHealthy++
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{\"code\":200,\"msg\":null}")
    })
  })
  const listen = () => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()))
  const close = () => {
    server.closeAllConnections()
    server.close()
  }
  return { state, listen, close }
}

const waitFor = async (what: string, check: () => boolean, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** One fault, start to recovery; gives [triggered, delivered]. */
const scenario = (fault: Fault) =>
  Effect.gen(function*() {
    const port = yield* Effect.promise(freePort)
    const admin = faultyAdmin(fault, port)
    yield* Effect.addFinalizer(() => Effect.sync(admin.close))
    if (fault !== "refused") yield* Effect.promise(admin.listen)
    const context = yield* Layer.build(
      Executor.layer(jobs).pipe(Layer.provide(ExecutorConfig.layer({
        adminAddresses: `http://127.0.0.1:${port}/xxl-job-admin`,
        appName: `faults-${fault}`,
        host: "127.0.0.1",
        ip: "127.0.0.1",
        port: 0,
        logPath: Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-faults-")),
        registryIntervalSeconds: 1,
        adminTimeoutSeconds: 1,
        shutdownGraceSeconds: 0
      })))
    )
    const { address } = Context.get(context, Executor.Executor)
    const triggered = [1, 2, 3, 4, 5]
    return yield* Effect.promise(async () => {
      // Triggers keep being taken while the admin misbehaves.
      for (const logId of triggered) {
        const reply = await fetch(`${address}run`, {
          method: "POST",
          body: JSON.stringify({
            jobId: logId,
            executorHandler: "echo",
            logId,
            logDateTime: Date.now(),
            glueType: "BEAN"
          })
        }).then((r) => r.json() as Promise<{ code: number }>)
        assert.strictEqual(reply.code, 200, fault)
      }
      if (fault === "refused") {
        await new Promise((r) => setTimeout(r, 1500))
        await admin.listen()
      } else {
        await waitFor(`${fault}: a refused callback`, () => admin.state.callbackAttempts >= 1)
      }
      admin.state.healthy = true
      await waitFor(`${fault}: every result`, () => admin.state.delivered.size === triggered.length)
      await waitFor(`${fault}: registration again`, () => admin.state.registrationsWhileHealthy >= 1)
      return [triggered.length, admin.state.delivered.size] as const
    })
  }).pipe(Effect.scoped)

describe("a flaky admin", () => {
  it.live(
    "down, slow, 502, an HTML login page, code 500: triggers go on, then every result arrives",
    () =>
      Effect.gen(function*() {
        const faults: Array<Fault> = ["refused", "slow", "http502", "html", "code500"]
        const counts = yield* Effect.forEach(faults, scenario, { concurrency: "unbounded" })
        assert.deepStrictEqual(counts, faults.map(() => [5, 5] as const))
      }),
    30_000
  )
})
