/**
 * The Redis log store against real Redis: the shared one on 127.0.0.1:6379 (`.ci/run` starts it), and for the
 * outage test a private redis-server of our own on a free port, which the test stops and starts again.
 */
import { assert, describe, it } from "@effect/vitest"
import { createClient } from "@redis/client"
import { Duration, Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as JobLogRedis from "../src/internal/jobLogRedis.js"
import { runLogsOver, write } from "./helpers/logStores.js"
import { freePort } from "./helpers/net.js"

const sharedUrl = "redis://127.0.0.1:6379"
const D = new Date(2026, 10, 23, 12, 30).getTime()
/** Keys of their own for each test run, so runs never see each other's logs. */
const prefix = () => `xxl-job-test:${process.pid}:${Math.random().toString(36).slice(2)}:log:`

/** A plain client for looking at what the store wrote. */
const inspect = Effect.acquireRelease(
  Effect.promise(async () => {
    const client = createClient({ url: sharedUrl })
    await client.connect()
    return client
  }),
  (client) => Effect.promise(() => client.close())
)

const line = (n: number) => `line ${n} ` + "é".repeat(n % 5)

describe("JobLogRedis", () => {
  it.scoped("appends in order, pages by line number in bounded pages, and says when a log does not exist", () =>
    Effect.gen(function*() {
      const store = yield* JobLogRedis.make({
        url: sharedUrl,
        keyPrefix: prefix(),
        retention: Duration.minutes(5),
        pageMaxBytes: 4096
      })
      const key = { logId: 1, logDateTime: D }
      for (let n = 1; n <= 3000; n += 500) {
        const pairs = Array.from({ length: 250 }, (_, i) => `${line(n + 2 * i)}\n${line(n + 2 * i + 1)}`)
        yield* write(store, key, ...pairs)
      }
      for (const from of [1, 1500, 2999]) {
        const page = yield* store.read(key, from)
        const lines = page.logContent.split("\n").slice(0, -1)
        assert.deepStrictEqual(lines, Array.from({ length: lines.length }, (_, i) => line(from + i)))
        assert.strictEqual(page.toLineNum, from + lines.length - 1)
      }
      // Following the log to its end gives every line once; past the end, nothing new.
      const seen: Array<string> = []
      for (let next = 1;;) {
        const page = yield* store.read(key, next)
        if (page.logContent === "") {
          assert.deepStrictEqual([page.fromLineNum, page.toLineNum, page.isEnd], [next, 3000, false])
          break
        }
        assert.isAtMost(Buffer.byteLength(page.logContent) - 40, 4096)
        seen.push(...page.logContent.split("\n").slice(0, -1))
        next = page.toLineNum + 1
      }
      assert.deepStrictEqual(seen, Array.from({ length: 3000 }, (_, i) => line(i + 1)))
      const missing = yield* store.read({ logId: 2, logDateTime: D }, 1)
      assert.deepStrictEqual([missing.logContent, missing.isEnd], ["readLog fail, logFile not exists", true])
    }))

  it.scoped("a run's log expires after the retention, counted from its last line; no retention, no expiry", () =>
    Effect.gen(function*() {
      const keyPrefix = prefix()
      const client = yield* inspect
      const kept = yield* JobLogRedis.make({ url: sharedUrl, keyPrefix, retention: Duration.hours(1) })
      const forever = yield* JobLogRedis.make({ url: sharedUrl, keyPrefix, retention: undefined })
      yield* write(kept, { logId: 1, logDateTime: D }, "a")
      yield* write(forever, { logId: 2, logDateTime: D }, "b")
      yield* kept.read({ logId: 1, logDateTime: D }, 1)
      yield* forever.read({ logId: 2, logDateTime: D }, 1)
      const ttl = yield* Effect.promise(() => client.ttl(`${keyPrefix}1`))
      assert.isTrue(ttl > 3500 && ttl <= 3600, `ttl ${ttl}`)
      assert.strictEqual(yield* Effect.promise(() => client.ttl(`${keyPrefix}2`)), -1)
      yield* Effect.promise(() => client.del([`${keyPrefix}1`, `${keyPrefix}2`]))
    }))

  it.scoped("two executor instances share logs: one writes a run's log, the other answers /log for it", () =>
    Effect.gen(function*() {
      const keyPrefix = prefix()
      const first = yield* JobLogRedis.make({ url: sharedUrl, keyPrefix, retention: Duration.minutes(5) })
      const second = yield* JobLogRedis.make({ url: sharedUrl, keyPrefix, retention: Duration.minutes(5) })
      const key = { logId: 7, logDateTime: D }
      yield* write(first, key, "started on the first instance")
      yield* write(first, key, "done")
      const page = yield* second.read(key, 1)
      assert.strictEqual(page.logContent, "started on the first instance\ndone\n")
    }))

  it.scopedLive(
    "Redis stopped mid-run: lines wait in memory and all arrive, in order, once it is back",
    () =>
      Effect.gen(function*() {
        const redis = yield* privateRedis
        const store = yield* JobLogRedis.make({ url: redis.url, keyPrefix: "outage:log:", retention: undefined })
        const key = { logId: 1, logDateTime: D }
        const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => line(from + i))
        yield* write(store, key, ...lines(1, 100))
        yield* redis.stop
        for (let n = 101; n <= 200; n += 20) yield* write(store, key, ...lines(n, n + 19))
        yield* Effect.sleep(Duration.millis(300))
        // Meanwhile a read answers "nothing new" instead of failing.
        const during = yield* store.read(key, 1)
        assert.strictEqual(during.logContent, "")
        yield* redis.start
        let read: Array<string> = []
        for (let attempt = 0; attempt < 100 && read.length < 200; attempt++) {
          yield* Effect.sleep(Duration.millis(100))
          read = (yield* store.read(key, 1)).logContent.split("\n").slice(0, -1)
        }
        assert.deepStrictEqual(read, lines(1, 200))
      }),
    30_000
  )
})

describe("run logs on Redis", () => {
  it.scopedLive(
    "a Redis that stops answering without closing the connection: /log answers within the deadline, then recovers",
    () =>
      Effect.gen(function*() {
        const redis = yield* privateRedis
        const store = yield* JobLogRedis.make({ url: redis.url, keyPrefix: "frozen:log:", retention: undefined })
        const runLogs = yield* runLogsOver(store)
        const key = { logId: 1, logDateTime: D }
        runLogs.append(key, "before")
        assert.strictEqual((yield* runLogs.read(key, 1)).logContent, "before\n")
        yield* redis.freeze
        runLogs.append(key, "during")
        const started = Date.now()
        const error = yield* Effect.flip(runLogs.read(key, 1))
        const took = Date.now() - started
        assert.strictEqual(error.reason, "the run log store did not answer within 2s")
        assert.isBelow(took, 2500)
        yield* redis.thaw
        let text = ""
        for (let attempt = 0; attempt < 100 && text !== "before\nduring\n"; attempt++) {
          yield* Effect.sleep(Duration.millis(50))
          text = yield* Effect.orElseSucceed(Effect.map(runLogs.read(key, 1), (page) => page.logContent), () => "")
        }
        assert.strictEqual(text, "before\nduring\n")
      }),
    30_000
  )
})

/**
 * A redis-server of our own that keeps what it took across a stop (append-only file, fsync always), so the
 * test sees what the store wrote before the outage and after it.
 */
const privateRedis = Effect.gen(function*() {
  const port = yield* freePort
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-redis-"))
  let child: ChildProcess.ChildProcess | undefined
  const start = Effect.promise(() =>
    new Promise<void>((resolve, reject) => {
      child = ChildProcess.spawn("redis-server", [
        "--bind",
        "127.0.0.1",
        "--port",
        String(port),
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always"
      ], { stdio: ["ignore", "pipe", "inherit"] })
      child.on("error", reject)
      let out = ""
      child.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes("Ready to accept connections")) resolve()
      })
    })
  )
  const stop = Effect.promise(() =>
    new Promise<void>((resolve) => {
      if (child === undefined || child.exitCode !== null) return resolve()
      child.once("exit", () => resolve())
      child.kill("SIGKILL")
    })
  )
  yield* start
  yield* Effect.addFinalizer(() =>
    Effect.zipRight(stop, Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
  )
  /** SIGSTOP: the server stops answering, its connections stay open (as in a failover or a partition). */
  const freeze = Effect.sync(() => child?.kill("SIGSTOP"))
  const thaw = Effect.sync(() => child?.kill("SIGCONT"))
  return { url: `redis://127.0.0.1:${port}`, start, stop, freeze, thaw }
})
