/**
 * The admin client against the mock admin over loopback HTTP, misbehaving in the ways admins do (its
 * faults), against TLS servers and proxies, and the registry beat on the TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Either, Fiber, Layer, TestClock } from "effect"
import * as ChildProcess from "node:child_process"
import * as DiagnosticsChannel from "node:diagnostics_channel"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Net from "node:net"
import type { AddressInfo } from "node:net"
import * as Path from "node:path"
import { AdminClient, ExecutorConfig, Wire } from "../src/index.js"
import { judge, plainCallbackOf, snippet } from "../src/internal/adminHttp.js"
import * as Registration from "../src/internal/registration.js"
import { MockAdmin } from "../src/testing.js"
import { selfSigned, selfSignedFile, tlsTitle } from "./helpers/tls.js"
import { waitUntil } from "./helpers/wait.js"

/**
 * The TCP connections this process opens to `url`'s port while the scope lasts, seen from the client's side
 * (Node announces each new client socket): how many are open, and which the admin closed (it sent its end
 * first) rather than the client.
 */
const connectionsTo = (url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const port = Number(new URL(url).port)
      const state = { opened: 0, open: 0, closedByAdmin: 0 }
      const onSocket = (message: unknown) => {
        const socket = (message as { socket: Net.Socket }).socket
        socket.once("connect", () => {
          if (socket.remotePort !== port) return
          let ended = false
          state.opened++
          state.open++
          socket.once("end", () => ended = true)
          socket.once("close", () => {
            state.open--
            if (ended) state.closedByAdmin++
          })
        })
      }
      DiagnosticsChannel.subscribe("net.client.socket", onSocket)
      return { state, stop: () => DiagnosticsChannel.unsubscribe("net.client.socket", onSocket) }
    }),
    ({ stop }) => Effect.sync(stop)
  ).pipe(Effect.map(({ state }) => state))

/** Answers `body` as JSON with HTTP 200 (for the TLS servers of the certificate tests). */
const json = (body: unknown) => (res: Http.ServerResponse) => {
  res.writeHead(200, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

/** A client built in the test's scope (its connection pool lives as long as the test). */
const clientFor = (options: ExecutorConfig.Options) =>
  Layer.build(AdminClient.layer.pipe(
    Layer.provide(ExecutorConfig.layer({ appName: "app", ...options }))
  )).pipe(Effect.map(Context.get(AdminClient.AdminClient)))

const registry = new Wire.RegistryParam({
  registryGroup: "EXECUTOR",
  registryKey: "app",
  registryValue: "http://127.0.0.1:9999/"
})

describe("AdminClient", () => {
  it.scopedLive("posts JSON to {address}/api/{name} with the token header, empty when unset", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve()
      const client = yield* clientFor({ adminAddresses: admin.url + "/" })
      yield* client.registry(registry)
      const withToken = yield* clientFor({ adminAddresses: admin.url, accessToken: "T", protocol: "3.5" })
      yield* withToken.callback([
        new Wire.CallbackItem({ logId: 1, logDateTim: 2, handleCode: 200, handleMsg: undefined })
      ])
      const seen = yield* admin.requests
      assert.strictEqual(seen[0].path, "/xxl-job-admin/api/registry")
      assert.strictEqual(seen[0].headers["xxl-job-access-token"], "")
      assert.match(String(seen[0].headers["content-type"]), /^application\/json/)
      assert.deepStrictEqual(JSON.parse(seen[0].body), {
        registryGroup: "EXECUTOR",
        registryKey: "app",
        registryValue: "http://127.0.0.1:9999/"
      })
      assert.strictEqual(seen[1].path, "/xxl-job-admin/api/callback")
      assert.strictEqual(seen[1].headers["xxl-job-access-token"], "T")
      assert.strictEqual(seen[1].headers["xxl-job-appname"], "app")
      assert.deepStrictEqual(JSON.parse(seen[1].body), {
        callbackList: [{ logId: 1, logDateTime: 2, handleCode: 200 }]
      })
      // The admin understood both.
      assert.deepStrictEqual((yield* admin.registrations).map((r) => r.address), ["http://127.0.0.1:9999/"])
      assert.deepStrictEqual((yield* admin.callbacks).map((item) => item.logId), [1])
    }))

  it.scopedLive("sends the Host header, and an address's credentials as Basic auth", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve()
      const { host } = new URL(admin.url!)
      const plain = yield* clientFor({ adminAddresses: admin.url })
      yield* plain.registry(registry)
      const withCredentials = yield* clientFor({ adminAddresses: admin.url!.replace("//", "//ops:p%40ss@") })
      yield* withCredentials.registry(registry)
      const seen = yield* admin.requests
      assert.strictEqual(seen[0].headers.host, host)
      assert.isUndefined(seen[0].headers.authorization)
      assert.strictEqual(seen[1].headers.host, host)
      assert.strictEqual(seen[1].headers.authorization, `Basic ${Buffer.from("ops:p@ss").toString("base64")}`)
      assert.strictEqual(seen[1].path, "/xxl-job-admin/api/registry")
    }))

  it.scopedLive("tries the admins in order and stops at the first code 200", () =>
    Effect.gen(function*() {
      const failing = yield* MockAdmin.serve({ faults: MockAdmin.Fault.Refuse({ msg: "busy" }) })
      const ok = yield* MockAdmin.serve()
      const never = yield* MockAdmin.serve()
      const client = yield* clientFor({ adminAddresses: [failing.url!, ok.url!, never.url!] })
      yield* client.registry(registry)
      const counts = yield* Effect.forEach([failing, ok, never], (admin) => Effect.map(admin.requests, (r) => r.length))
      assert.deepStrictEqual(counts, [1, 1, 0])
      assert.strictEqual((yield* ok.registrations).length, 1)
    }))

  it.scopedLive("says what each admin answered when none accepts: code 500, HTML, HTTP 404, silence, refusal", () =>
    Effect.gen(function*() {
      const code500 = yield* MockAdmin.serve({ faults: MockAdmin.Fault.Refuse({ msg: "nope" }) })
      const html = yield* MockAdmin.serve({ faults: MockAdmin.Fault.LoginPage() })
      const notFound = yield* MockAdmin.serve({ faults: MockAdmin.Fault.HttpError({ status: 404 }) })
      const silent = yield* MockAdmin.serve({ faults: MockAdmin.Fault.Slow({ delay: "1 minute" }) })
      const refused = "http://127.0.0.1:1/xxl-job-admin"
      const client = yield* clientFor({
        adminAddresses: [code500.url!, html.url!, notFound.url!, silent.url!, refused],
        adminTimeoutSeconds: 1
      })
      // The login page, as anyone reads it.
      const page = yield* Effect.promise(() =>
        fetch(`${html.url}/api/registry`, { method: "POST", body: "{}" }).then((response) => response.text())
      )
      assert.match(page, /^<!DOCTYPE html>/)
      const result = yield* Effect.either(client.registry(registry))
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        const error = result.left
        assert.strictEqual(error.operation, "registry")
        // Each attempt carries its URL and what went wrong as data.
        assert.deepStrictEqual(error.attempts.map((attempt) => attempt.url), [
          `${code500.url}/api/registry`,
          `${html.url}/api/registry`,
          `${notFound.url}/api/registry`,
          `${silent.url}/api/registry`,
          `${refused}/api/registry`
        ])
        const [a, b, c, d, e] = error.attempts.map((attempt) => attempt.problem)
        assert.deepStrictEqual(a, AdminClient.AdminProblem.Refused({ code: 500, msg: "nope" }))
        assert.deepStrictEqual(b, AdminClient.AdminProblem.NotProtocol({ kind: "html", snippet: snippet(page) }))
        assert.deepStrictEqual(c, AdminClient.AdminProblem.HttpStatus({ status: 404, snippet: "Not Found" }))
        assert.deepStrictEqual(d, AdminClient.AdminProblem.NoAnswer({ timeout: Duration.seconds(1) }))
        assert.strictEqual(e._tag, "Unreachable")
        if (e._tag === "Unreachable") assert.strictEqual((e.cause as NodeJS.ErrnoException).code, "ECONNREFUSED")
        // The message says it all in words, as it always has.
        const [ta, tb, tc, td, te] = error.attempts.map(AdminClient.formatAttempt)
        assert.strictEqual(ta, `${code500.url}/api/registry code 500: nope`)
        assert.strictEqual(
          tb,
          `${html.url}/api/registry answered HTML, not the XXL-JOB protocol (a login page or a wrong context path?): ` +
            snippet(page)
        )
        assert.strictEqual(tc, `${notFound.url}/api/registry HTTP 404 (Not Found)`)
        assert.strictEqual(td, `${silent.url}/api/registry no answer within 1s`)
        assert.strictEqual(te, `${refused}/api/registry unreachable (connect ECONNREFUSED 127.0.0.1:1)`)
        assert.strictEqual(error.message, `registry failed: ${[ta, tb, tc, td, te].join("; ")}`)
      }
    }))
})

describe("AdminClient, judging an answer", () => {
  it("HTTP 200 with code 200 is a success; anything else is a problem with what was answered", () => {
    const { AdminProblem } = AdminClient
    assert.isUndefined(judge(200, "{\"code\":200,\"msg\":null}"))
    assert.deepStrictEqual(judge(404, ""), AdminProblem.HttpStatus({ status: 404, snippet: "" }))
    assert.deepStrictEqual(
      judge(502, " Bad\n  Gateway "),
      AdminProblem.HttpStatus({ status: 502, snippet: "Bad Gateway" })
    )
    assert.deepStrictEqual(
      judge(200, `  <html>${"x".repeat(200)}</html>`),
      AdminProblem.NotProtocol({ kind: "html", snippet: `<html>${"x".repeat(114)}…` })
    )
    assert.deepStrictEqual(judge(200, "ok"), AdminProblem.NotProtocol({ kind: "notJson", snippet: "ok" }))
    assert.deepStrictEqual(judge(200, "[1]"), AdminProblem.NotProtocol({ kind: "jsonWithoutCode", snippet: "[1]" }))
    assert.deepStrictEqual(judge(200, "{\"code\":500}"), AdminProblem.Refused({ code: 500, msg: undefined }))
    // The lines the message is made of, as they always read.
    const url = "http://admin/xxl-job-admin/api/registry"
    const line = (problem: AdminClient.AdminProblem) => AdminClient.formatAttempt({ url, problem })
    assert.strictEqual(line(judge(404, "")!), `${url} HTTP 404`)
    assert.strictEqual(line(judge(200, "{\"code\":500}")!), `${url} code 500`)
    assert.strictEqual(line(judge(200, "[1]")!), `${url} answered JSON without a code: [1]`)
    assert.strictEqual(line(judge(200, "ok")!), `${url} answered something that is not JSON: ok`)
    assert.strictEqual(
      line(AdminProblem.NotSent({ cause: new TypeError("Invalid character in header content") })),
      `${url} could not be sent (Invalid character in header content)`
    )
    assert.strictEqual(
      new AdminClient.AdminError({ operation: "registryRemove", attempts: [] }).message,
      "registryRemove: no admin address is configured"
    )
  })
})

describe("AdminClient, interrupted", () => {
  it.scopedLive("an interrupted call closes its request: the admin sees the connection go", () =>
    Effect.gen(function*() {
      // Takes the request and answers nothing for a minute.
      const admin = yield* MockAdmin.serve({ faults: MockAdmin.Fault.Slow({ delay: "1 minute" }) })
      const connections = yield* connectionsTo(admin.url!)
      const client = yield* clientFor({ adminAddresses: admin.url, adminTimeoutSeconds: 30 })
      const call = yield* Effect.fork(client.registry(registry))
      yield* waitUntil("the request", Effect.map(admin.requests, (requests) => requests.length === 1))
      assert.strictEqual(connections.open, 1)
      yield* Fiber.interrupt(call)
      yield* waitUntil("the request's connection to close", () => connections.open === 0, 5000)
      assert.deepStrictEqual([connections.opened, connections.closedByAdmin], [1, 0])
    }))
})

describe("AdminClient, the plain callback", () => {
  const items = [new Wire.CallbackItem({ logId: 7, logDateTim: 8, handleCode: 500, handleMsg: "failed" })]

  /** The client's plain callback form (ours has one). */
  const plainOf = (client: AdminClient.Service) => {
    const plain = plainCallbackOf(client)
    assert.isDefined(plain, "a client from AdminClient.make has a plain callback form")
    return plain!
  }

  /** The plain callback as an Effect: what `done` was called with. */
  const plainCallback = (client: AdminClient.Service) =>
    Effect.async<AdminClient.AdminError | undefined>((resume) => {
      plainOf(client)(items, (error) => resume(Effect.succeed(error)))
    })

  it.scopedLive("sends what `callback` sends; done hears of success, or of what each admin answered", () =>
    Effect.gen(function*() {
      const ok = yield* MockAdmin.serve()
      const sick = yield* MockAdmin.serve({ faults: MockAdmin.Fault.Refuse({ msg: "sick" }) })
      const client = yield* clientFor({ adminAddresses: ok.url })
      yield* client.callback(items)
      assert.isUndefined(yield* plainCallback(client))
      const seen = yield* ok.requests
      assert.deepStrictEqual(seen.map((request) => request.path), [
        "/xxl-job-admin/api/callback",
        "/xxl-job-admin/api/callback"
      ])
      assert.strictEqual(seen[1].body, seen[0].body)
      assert.deepStrictEqual(seen[1].headers["content-type"], seen[0].headers["content-type"])
      assert.deepStrictEqual((yield* ok.callbacks).map((item) => item.logId), [7, 7])

      const failing = yield* clientFor({ adminAddresses: [sick.url!, "http://127.0.0.1:1/xxl-job-admin"] })
      const error = yield* plainCallback(failing)
      assert.strictEqual(error?.operation, "callback")
      assert.deepStrictEqual(error?.attempts[0], {
        url: `${sick.url}/api/callback`,
        problem: AdminClient.AdminProblem.Refused({ code: 500, msg: "sick" })
      })
      assert.strictEqual(error?.attempts[1].problem._tag, "Unreachable")
      assert.include(error?.message, "code 500: sick; http://127.0.0.1:1/xxl-job-admin/api/callback unreachable")
    }))

  it("a client of one's own has no plain form: the outbox calls its Effect", () => {
    const own = AdminClient.AdminClient.of({
      registry: () => Effect.void,
      registryRemove: () => Effect.void,
      callback: () => Effect.void
    })
    assert.isUndefined(plainCallbackOf(own))
  })

  it.scopedLive("done comes after the call returns, even when there is no admin to try at all", () =>
    Effect.gen(function*() {
      const client = yield* clientFor({})
      let returned = false
      const error = yield* Effect.async<AdminClient.AdminError | undefined>((resume) => {
        plainOf(client)(items, (error) => resume(Effect.succeed(returned ? error : undefined)))
        returned = true
      })
      assert.deepStrictEqual(error?.attempts, [])
      assert.strictEqual(error?.message, "callback: no admin address is configured")
    }))

  it.scopedLive("aborting closes the request, and done is never called", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve({ faults: MockAdmin.Fault.Slow({ delay: "1 minute" }) })
      const connections = yield* connectionsTo(admin.url!)
      const client = yield* clientFor({ adminAddresses: admin.url, adminTimeoutSeconds: 1 })
      let calls = 0
      const abort = plainOf(client)(items, () => calls++)
      yield* waitUntil("the request", Effect.map(admin.requests, (requests) => requests.length === 1))
      assert.strictEqual(connections.open, 1)
      abort()
      yield* waitUntil("the request's connection to close", () => connections.open === 0, 5000)
      assert.strictEqual(connections.closedByAdmin, 0)
      // Past the 1 s admin timeout too: an aborted call's timer is gone with it.
      yield* Effect.sleep(Duration.millis(1200))
      assert.strictEqual(calls, 0)
    }))
})

describe("AdminClient, idle", () => {
  it.scopedLive(
    "closes a keep-alive connection after a few idle seconds, before an admin's server would",
    () =>
      Effect.gen(function*() {
        const admin = yield* MockAdmin.serve()
        const connections = yield* connectionsTo(admin.url!)
        const client = yield* clientFor({ adminAddresses: admin.url })
        yield* client.registry(registry)
        const answeredAt = Date.now()
        assert.strictEqual(connections.open, 1)
        yield* waitUntil("the connection to close", () => connections.open === 0, 10_000)
        // Kept for reuse first (not closed at once), then let go by the client: the admin's server (keeping idle
        // connections 60 s, as Tomcat does) did not have to close it.
        assert.isAtLeast(Date.now() - answeredAt, 2000)
        assert.deepStrictEqual([connections.opened, connections.closedByAdmin], [1, 0])
      }),
    15_000
  )
})

describe("AdminClient over HTTPS", () => {
  it.skipIf(selfSigned === undefined)(
    tlsTitle("speaks TLS to an https admin and checks its certificate (a self-signed one is refused)"),
    () =>
      Effect.gen(function*() {
        const server = Https.createServer(selfSigned!, (_, res) => json({ code: 200 })(res))
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
          () => Effect.sync(() => server.close())
        )
        const port = (server.address() as AddressInfo).port
        const client = yield* clientFor({ adminAddresses: `https://127.0.0.1:${port}/xxl-job-admin` })
        const result = yield* Effect.either(client.registry(registry))
        assert.isTrue(Either.isLeft(result))
        // The certificate's own complaint: the client went through a TLS handshake and verified what it got.
        if (Either.isLeft(result)) {
          const [attempt] = result.left.attempts
          assert.strictEqual(attempt.problem._tag, "Unreachable")
          assert.include(AdminClient.formatAttempt(attempt), "self-signed certificate")
        }
      }).pipe(Effect.scoped, Effect.runPromise)
  )

  /** An HTTPS admin with the self-signed certificate, answering code 200; notes what it was sent. */
  const tlsAdmin = Effect.gen(function*() {
    const seen: Array<{ readonly url: string; readonly host: string; readonly body: string }> = []
    const server = Https.createServer(selfSigned!, (req, res) => {
      let body = ""
      req.on("data", (chunk) => body += chunk)
      req.on("end", () => {
        seen.push({ url: req.url ?? "", host: req.headers.host ?? "", body })
        json({ code: 200 })(res)
      })
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
      () => Effect.sync(() => server.close())
    )
    return { port: (server.address() as AddressInfo).port, seen }
  })

  /** This process's proxy settings, if any, are not the test's. */
  const noProxies = Object.fromEntries(
    ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"].map((name) => [name, ""])
  )

  /**
   * One callback from a client in a process of its own, which trusts the test's certificate: Node reads
   * NODE_EXTRA_CA_CERTS only at start. `env` is added to its environment; gives what it printed.
   */
  const callbackFromProcess = (adminUrl: string, env: Record<string, string> = {}) =>
    Effect.async<string>((resume) => {
      ChildProcess.execFile(
        process.execPath,
        ["--import", "tsx", Path.join(import.meta.dirname, "fixtures", "admin-call.ts")],
        { env: { ...process.env, ...noProxies, NODE_EXTRA_CA_CERTS: selfSignedFile!, ADMIN_URL: adminUrl, ...env } },
        (_, stdout, stderr) => resume(Effect.succeed((stdout + stderr).trim()))
      )
    })

  it.skipIf(selfSigned === undefined)(
    tlsTitle("delivers over TLS to an admin whose CA is given in NODE_EXTRA_CA_CERTS"),
    () =>
      Effect.gen(function*() {
        const admin = yield* tlsAdmin
        assert.strictEqual(yield* callbackFromProcess(`https://127.0.0.1:${admin.port}/xxl-job-admin`), "delivered")
        assert.strictEqual(admin.seen.length, 1)
        assert.strictEqual(admin.seen[0].url, "/xxl-job-admin/api/callback")
        assert.strictEqual(admin.seen[0].host, `127.0.0.1:${admin.port}`)
        assert.strictEqual(JSON.parse(admin.seen[0].body)[0].handleMsg, "over TLS")
      }).pipe(Effect.scoped, Effect.runPromise),
    20_000
  )

  it.skipIf(selfSigned === undefined)(
    tlsTitle("reaches an HTTPS admin through HTTPS_PROXY by a CONNECT tunnel"),
    () =>
      Effect.gen(function*() {
        const admin = yield* tlsAdmin
        // A proxy that only tunnels: it notes each CONNECT and joins the two sockets.
        const tunnels: Array<string> = []
        const proxy = Http.createServer((_, res) => {
          res.writeHead(405)
          res.end()
        })
        proxy.on("connect", (req: Http.IncomingMessage, client: Net.Socket, head: Buffer) => {
          tunnels.push(req.url ?? "")
          const [host, port] = (req.url ?? "").split(":")
          const upstream = Net.connect(Number(port), host, () => {
            client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
            upstream.write(head)
            upstream.pipe(client)
            client.pipe(upstream)
          })
          upstream.on("error", () => client.destroy())
          client.on("error", () => upstream.destroy())
        })
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => void proxy.listen(0, "127.0.0.1", () => resume(Effect.void))),
          () =>
            Effect.sync(() => {
              proxy.closeAllConnections()
              proxy.close()
            })
        )
        const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
        const output = yield* callbackFromProcess(`https://127.0.0.1:${admin.port}/xxl-job-admin`, {
          HTTPS_PROXY: proxyUrl
        })
        assert.strictEqual(output, "delivered")
        assert.deepStrictEqual(tunnels, [`127.0.0.1:${admin.port}`])
        assert.strictEqual(admin.seen.length, 1)
        assert.strictEqual(JSON.parse(admin.seen[0].body)[0].handleMsg, "over TLS")
      }).pipe(Effect.scoped, Effect.runPromise),
    20_000
  )
})

describe("Registration", () => {
  const recording = () => {
    const calls: Array<string> = []
    let failing = false
    const client = AdminClient.AdminClient.of({
      registry: (param) =>
        Effect.suspend(() => {
          calls.push(`registry ${param.registryValue}`)
          return failing
            ? Effect.fail(
              new AdminClient.AdminError({
                operation: "registry",
                attempts: [{
                  url: "http://127.0.0.1:1/xxl-job-admin/api/registry",
                  problem: AdminClient.AdminProblem.Unreachable({ cause: new Error("down") })
                }]
              })
            )
            : Effect.void
        }),
      registryRemove: (param) => Effect.sync(() => void calls.push(`remove ${param.registryValue}`)),
      callback: () => Effect.void
    })
    return { calls, client, setFailing: (value: boolean) => (failing = value) }
  }

  it.effect("registers at start and every interval, survives failures, and removes itself on close", () =>
    Effect.gen(function*() {
      const admin = recording()
      const layer = Layer.mergeAll(
        ExecutorConfig.layer({ appName: "app", adminAddresses: "http://127.0.0.1:1/xxl-job-admin" }),
        Layer.succeed(AdminClient.AdminClient, admin.client)
      )
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Registration.start("http://127.0.0.1:9999/")
        yield* TestClock.adjust(Duration.seconds(1))
        assert.strictEqual(admin.calls.length, 1)
        admin.setFailing(true)
        yield* TestClock.adjust(Duration.seconds(60))
        assert.strictEqual(admin.calls.length, 3)
        admin.setFailing(false)
        yield* TestClock.adjust(Duration.seconds(30))
        assert.strictEqual(admin.calls.length, 4)
      })).pipe(Effect.provide(layer))
      assert.deepStrictEqual(admin.calls.at(-1), "remove http://127.0.0.1:9999/")
      assert.strictEqual(admin.calls.filter((c) => c.startsWith("remove")).length, 1)
    }))

  it.effect("does not register without an admin address", () =>
    Effect.gen(function*() {
      const admin = recording()
      yield* Effect.scoped(Registration.start("http://127.0.0.1:9999/")).pipe(
        Effect.provide(Layer.mergeAll(ExecutorConfig.layer({}), Layer.succeed(AdminClient.AdminClient, admin.client)))
      )
      assert.deepStrictEqual(admin.calls, [])
    }))
})

describe("AdminClient through a proxy", () => {
  /** A client made while the environment holds `env` (the client reads the proxy variables when made). */
  const clientWithEnv = (env: Record<string, string>, options: ExecutorConfig.Options) =>
    Effect.gen(function*() {
      const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]))
      Object.assign(process.env, env)
      return yield* clientFor(options).pipe(
        Effect.ensuring(Effect.sync(() => {
          for (const [name, value] of Object.entries(saved)) {
            if (value === undefined) delete process.env[name]
            else process.env[name] = value
          }
        }))
      )
    })

  it.scopedLive("goes through the proxy HTTP_PROXY names, except to the hosts NO_PROXY lists", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.serve()
      const proxy = yield* forwardProxy
      const viaProxy = yield* clientWithEnv({ HTTP_PROXY: proxy.url, NO_PROXY: "" }, { adminAddresses: admin.url })
      yield* viaProxy.registry(registry)
      assert.deepStrictEqual(proxy.seen, [`POST ${admin.url}/api/registry`])
      assert.strictEqual((yield* admin.requests).length, 1)

      const bypassing = yield* clientWithEnv({ HTTP_PROXY: proxy.url, NO_PROXY: "127.0.0.1" }, {
        adminAddresses: admin.url
      })
      yield* bypassing.registry(registry)
      assert.strictEqual(proxy.seen.length, 1)
      assert.strictEqual((yield* admin.requests).length, 2)
      assert.strictEqual((yield* admin.registrations).length, 2)
    }))
})

/** A forward HTTP proxy on loopback: notes each request (method and absolute URL) and passes it on. */
const forwardProxy = Effect.acquireRelease(
  Effect.async<{ url: string; seen: Array<string>; server: Http.Server }>((resume) => {
    const seen: Array<string> = []
    const server = Http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`)
      const target = new URL(req.url!)
      const upstream = Http.request(
        { host: target.hostname, port: target.port, path: target.pathname, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        }
      )
      upstream.on("error", () => res.destroy())
      req.pipe(upstream)
    })
    server.listen(
      0,
      "127.0.0.1",
      () => resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server }))
    )
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)
