/**
 * The Redis run log store: each run's log is a Redis list of its lines, under `{keyPrefix}{logId}`, so every
 * executor instance of the app answers `/log` for runs any of them executed (a replaced pod's logs stay
 * readable), and a TTL on each list is the retention.
 *
 * A write goes to Redis as one transaction (`RPUSH` and `EXPIRE` per run), never a round trip per line. While
 * Redis is away the lines wait in memory, in order, and are sent when it is back; the executor says so in its
 * own log, once per outage. `/log` reads a page with `LRANGE` from the line asked for: no scan from line 1.
 *
 * @internal
 */
import type { RedisClientType } from "@redis/client"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type { LogKey, Store } from "../JobLog.js"
import { LogResult } from "../Wire.js"
import { notFound, pageMaxBytes, splitLines } from "./logLines.js"

/** Where the store keeps logs, and for how long. */
export interface Options {
  /** `redis://[user:password@]host:port[/db]`. */
  readonly url: string | Redacted.Redacted<string>
  /** Put before each logId; give each app its own (the default layer uses `xxl-job:{appName}:log:`). */
  readonly keyPrefix: string
  /** How long a run's log is kept after its last line; undefined keeps it until deleted. */
  readonly retention: Duration.Duration | undefined
  /** About how much text one `/log` page carries. */
  readonly pageMaxBytes?: number | undefined
}

/** While Redis is away, how often the waiting lines are tried again. */
const retryMillis = 1000
/** Lines per `RPUSH`. */
const pushChunk = 10_000
/** Lines read per `LRANGE` while a page fills. */
const readChunk = 1000

/** A transaction Redis ran with some commands refused (node-redis' MultiErrorReply). */
const isPartlyApplied = (error: unknown): boolean =>
  typeof error === "object" && error !== null && Array.isArray((error as { errorIndexes?: unknown }).errorIndexes)

/** A Redis store. Connects in the background: the executor starts (and runs) while Redis is away. */
export const make = (options: Options): Effect.Effect<Store, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const say = (effect: Effect.Effect<void>) => void runFork(effect)
    const maxBytes = options.pageMaxBytes ?? pageMaxBytes
    const ttlSeconds = options.retention === undefined
      ? undefined
      : Math.max(1, Math.round(Duration.toSeconds(options.retention)))
    const keyOf = (key: LogKey) => `${options.keyPrefix}${key.logId}`

    // Loaded here, not at the top: executors on the file store never load the client.
    const { createClient } = yield* Effect.promise(() => import("@redis/client"))
    const client: RedisClientType = createClient({
      url: typeof options.url === "string" ? options.url : Redacted.value(options.url),
      // Commands fail at once while disconnected: the lines then wait here, where they are counted.
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (attempt: number) => Math.min(100 * attempt, 2000) }
    }) as RedisClientType

    /** Lines waiting to be sent, per key, in order. */
    let queued = new Map<string, Array<string>>()
    let timer: ReturnType<typeof setTimeout> | undefined
    let sending: Promise<void> = Promise.resolve()

    let down: string | undefined
    const wentDown = (reason: string) => {
      if (down !== undefined) return
      down = reason
      say(Effect.logWarning(`run logs: Redis is unavailable (${reason}); lines are kept in memory until it is back`))
    }
    const cameBack = () => {
      if (down === undefined) return
      down = undefined
      say(Effect.logInfo("run logs: Redis is back; the lines kept meanwhile are being written"))
    }
    client.on("error", (error: Error) => wentDown(error.message))
    client.on("ready", () => {
      cameBack()
      if (queued.size > 0) schedule(0)
    })
    client.connect().catch(() => undefined)

    const schedule = (millis: number) => {
      if (timer !== undefined) return
      timer = setTimeout(() => {
        timer = undefined
        void send()
      }, millis)
    }

    /** Sends what is queued as one transaction; on failure it goes back to the front of the queue. */
    const send = (): Promise<void> => {
      sending = sending.then(async () => {
        if (queued.size === 0) return
        const batch = queued
        queued = new Map()
        try {
          const multi = client.multi()
          for (const [key, lines] of batch) {
            // A command of at most `pushChunk` lines: a run that logged a million in a turn is many commands.
            for (let i = 0; i < lines.length; i += pushChunk) multi.rPush(key, lines.slice(i, i + pushChunk))
            if (ttlSeconds !== undefined) multi.expire(key, ttlSeconds)
          }
          await multi.exec()
          cameBack()
        } catch (error) {
          if (isPartlyApplied(error)) {
            // Redis ran the transaction and refused some of it (a key of another type, say): sending it
            // again would repeat what it took. Said loudly, not retried.
            say(Effect.logError(`run logs: Redis refused part of a batch of ${batch.size} log(s)`, error))
            return
          }
          wentDown(error instanceof Error ? error.message : String(error))
          for (const [key, lines] of queued) batch.set(key, (batch.get(key) ?? []).concat(lines))
          queued = batch
          schedule(retryMillis)
        }
      })
      return sending
    }

    /** Queues the lines of a run's log, behind those waiting for it. */
    const queue = (key: string, text: string) => {
      const lines = splitLines(text)
      const waiting = queued.get(key)
      if (waiting === undefined) queued.set(key, lines)
      else for (const line of lines) waiting.push(line)
    }

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        await send()
        if (queued.size > 0) {
          const lines = [...queued.values()].reduce((sum, lines) => sum + lines.length, 0)
          say(Effect.logError(`run logs: closing with ${lines} line(s) Redis never took (${down}); they are lost`))
        }
        if (timer !== undefined) clearTimeout(timer)
        await client.close().catch(() => client.destroy())
      }).pipe(Effect.timeout(Duration.seconds(5)), Effect.ignore)
    )

    const read = (key: LogKey, fromLineNum: number) =>
      Effect.promise(async () => {
        await send()
        const redisKey = keyOf(key)
        const first = Math.max(1, fromLineNum)
        const lines: Array<string> = []
        let bytes = 0
        let total = 0
        for (let start = first - 1;; start += readChunk) {
          const [length, chunk] = await client.multi()
            .lLen(redisKey)
            .lRange(redisKey, start, start + readChunk - 1)
            .execAsPipeline() as unknown as [number, Array<string>]
          total = length
          for (const line of chunk) {
            if (lines.length > 0 && bytes >= maxBytes) break
            lines.push(line)
            bytes += Buffer.byteLength(line, "utf8") + 1
          }
          if (chunk.length < readChunk || bytes >= maxBytes) break
        }
        if (total === 0) return notFound(fromLineNum)
        return new LogResult({
          fromLineNum,
          toLineNum: lines.length === 0 ? total : first + lines.length - 1,
          logContent: lines.length === 0 ? "" : lines.join("\n") + "\n",
          isEnd: false
        })
      }).pipe(
        // Redis away: nothing new for now, and the admin asks again.
        Effect.catchAllDefect((error) =>
          Effect.as(
            Effect.logWarning("run logs: a /log read from Redis failed", error),
            new LogResult({ fromLineNum, toLineNum: fromLineNum - 1, logContent: "", isEnd: false })
          )
        )
      )

    return {
      write: (batch) =>
        Effect.promise(() => {
          for (const { key, text } of batch) queue(keyOf(key), text)
          // While Redis is away the lines wait for it: its return, or the retry timer, sends them.
          return down === undefined ? send() : Promise.resolve()
        }),
      read
    } satisfies Store
  })
