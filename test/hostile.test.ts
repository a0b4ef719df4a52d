/**
 * Hostile input: every endpoint fed generated and corrupted bodies (property tests over the wire Schemas),
 * invalid UTF-8, slow and half-sent requests, many idle connections and path-like values. Every answer must
 * be the protocol's `{code, msg}` (HTTP 200), no input may reach a file path, and the executor must stay
 * healthy.
 */
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Effect, FastCheck as fc, Schema } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { Executor, Job, Wire } from "../src/index.js"
import { MockAdmin } from "../src/testing.js"
import { tempDir } from "./helpers/tempDirs.js"

const Echo = Job.make({ name: "echo", run: Effect.map(Job.JobContext, (context) => context.params) })
const jobs = Job.registry(Echo)
const endpoints = ["/beat", "/idleBeat", "/run", "/kill", "/log"] as const

/** Bodies: generated from the wire Schemas' encoded side, arbitrary JSON, arbitrary text, truncated JSON. */
const encoded = <A, I>(schema: Schema.Schema<A, I>) =>
  Arbitrary.make(Schema.encodedSchema(schema)).map((v) => JSON.stringify(v))
const bodies = fc.oneof(
  encoded(Wire.TriggerParam),
  encoded(Wire.JobIdParam),
  encoded(Wire.LogParam),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  encoded(Wire.TriggerParam).chain((json) => fc.nat(json.length).map((cut) => json.slice(0, cut))),
  fc.constantFrom("", "null", "[]", "{}", "\"\"", "{\"jobId\":1e400}", "{\"logId\":\"../../etc/passwd\"}")
)

/** A well-formed answer: code 200 or 500, msg a string when it failed, nothing that is not JSON. */
const checkReply = (reply: Wire.Reply) => {
  assert.oneOf(reply.code, [200, 500])
  if (reply.code === 500) assert.isString(reply.msg)
  assert.doesNotThrow(() => JSON.stringify(reply))
}

const dirsUnder = (root: string): Array<string> =>
  Fs.existsSync(root) ? Fs.readdirSync(root, { recursive: true }).map(String) : []

describe("hostile input", () => {
  it.live("every endpoint answers generated and corrupted bodies with the protocol's shape", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.constantFrom(...endpoints), bodies, async (path, body) => {
            checkReply(await Effect.runPromise(admin.call(path, body)))
          }),
          { numRuns: 1500 }
        )
      )
      assert.deepStrictEqual(yield* admin.beat, { code: 200, msg: "Success" })
    }).pipe(Effect.provide(MockAdmin.layer(jobs))))

  it.live("over HTTP: invalid UTF-8, random bytes, path-like values; no file outside the day folders", () => {
    const logPath = tempDir("xxl-hostile-")
    return Effect.gen(function*() {
      const { port } = yield* Executor.Executor
      const post = (path: string, body: Uint8Array | string) =>
        Effect.promise(() =>
          fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", body }).then(async (response) => {
            assert.strictEqual(response.status, 200)
            return (await response.json()) as Wire.Reply
          })
        )
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.constantFrom(...endpoints), fc.uint8Array({ maxLength: 300 }), async (path, bytes) => {
            checkReply(await Effect.runPromise(post(path, bytes)))
          }),
          { numRuns: 200 }
        )
      )
      const invalidUtf8 = new Uint8Array([
        ...new TextEncoder().encode("{\"jobId\":3,\"executorHandler\":\"echo\",\"executorParams\":\""),
        0xff,
        0xfe,
        0xc3,
        ...new TextEncoder().encode("\",\"logId\":77,\"logDateTime\":1795459206267,\"glueType\":\"BEAN\"}")
      ])
      assert.strictEqual((yield* post("/run", invalidUtf8)).code, 200)
      for (
        const body of [
          "{\"logId\":\"../../../etc/passwd\",\"logDateTim\":1,\"fromLineNum\":1}",
          "{\"logId\":1,\"logDateTim\":\"../x\",\"fromLineNum\":1}",
          "{\"logId\":1,\"logDateTim\":9e20,\"fromLineNum\":1}"
        ]
      ) {
        const reply = yield* post("/log", body)
        assert.strictEqual(reply.code, 500)
        assert.match(reply.msg ?? "", /^request error:/)
      }
      const traversal = yield* post(
        "/run",
        JSON.stringify({ jobId: 4, executorHandler: "../../../tmp/x", logId: 78, logDateTime: 1, glueType: "BEAN" })
      )
      assert.deepStrictEqual(traversal, { code: 500, msg: "job handler [../../../tmp/x] not found." })
      // Only `{yyyy-MM-dd}/{logId}.log` (and the outbox journal) ever appear under the log path.
      for (const entry of dirsUnder(logPath)) {
        assert.match(entry, /^(\d{4}-\d{2}-\d{2}(\/-?\d+\.log)?|callback-outbox(\/journal\.log(\.tmp)?)?)$/)
      }
      assert.deepStrictEqual((yield* post("/beat", "")).code, 200)
    }).pipe(Effect.provide(MockAdmin.layerHttp(jobs, { logPath })))
  })

  it.live(
    "slow and half-sent requests get an answer or are closed in bounded time; many idle connections do no harm",
    () =>
      Effect.gen(function*() {
        const { port } = yield* Executor.Executor
        /** Writes `text` on a raw connection and collects what comes back until the server closes it. */
        const rawExchange = (text: string) =>
          Effect.async<{ readonly reply: string; readonly ms: number }>((resume) => {
            const started = Date.now()
            let reply = ""
            const socket = Net.connect(port, "127.0.0.1", () => socket.write(text))
            socket.setEncoding("utf8")
            socket.on("data", (chunk) => reply += chunk)
            socket.on("close", () => resume(Effect.succeed({ reply, ms: Date.now() - started })))
            socket.on("error", () => undefined)
          })
        // A body that never finishes: the protocol's error, then the connection closes.
        const slowBody = yield* rawExchange(
          "POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"jobId\":"
        )
        assert.include(slowBody.reply, "HTTP/1.1 200")
        assert.include(slowBody.reply, "request error:the request body did not arrive within 1s.")
        assert.isBelow(slowBody.ms, 4000)
        // Headers that never finish: closed (Node answers 408) within the timeout.
        const slowHeaders = yield* rawExchange("POST /beat HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        assert.isBelow(slowHeaders.ms, 5000)
        // Many idle connections at once, and the executor still answers.
        const sockets = Array.from({ length: 300 }, () => Net.connect(port, "127.0.0.1"))
        yield* Effect.sleep("200 millis")
        const beat = yield* Effect.promise(() =>
          fetch(`http://127.0.0.1:${port}/beat`, { method: "POST" }).then((r) => r.json())
        )
        assert.deepStrictEqual(beat, { code: 200, msg: "Success" })
        for (const socket of sockets) socket.destroy()
      }).pipe(Effect.provide(MockAdmin.layerHttp(jobs, { requestTimeoutSeconds: 1 }))),
    20_000
  )
})
