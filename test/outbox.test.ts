/**
 * The durable outbox: the journal store (crash-safe records, recovery, compaction) and the outbox's delivery
 * (retry until accepted, bounds that drop loudly, earlier results first), on the TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Duration, Effect, FastCheck as fc, Layer, Logger, TestClock } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { AdminClient, ExecutorConfig, JobLog, Wire } from "../src/index.js"
import { withPlainCallback } from "../src/internal/adminHttp.js"
import * as Outbox from "../src/internal/outbox.js"
import * as OutboxStore from "../src/internal/outboxStore.js"
import * as RunLogs from "../src/internal/runLogs.js"
import { tempDir } from "./helpers/tempDirs.js"

/** A callback that no admin took: the one admin is down. */
const adminDown = new AdminClient.AdminError({
  operation: "callback",
  attempts: [{
    url: "http://127.0.0.1:1/xxl-job-admin/api/callback",
    problem: AdminClient.AdminProblem.Unreachable({ cause: new Error("connect ECONNREFUSED 127.0.0.1:1") })
  }]
})

const outboxDir = () => tempDir("xxl-outbox-")
const item = (logId: number, handleCode = 200) =>
  new Wire.CallbackItem({ logId, logDateTim: 1795459206267, handleCode, handleMsg: `r${logId}` })
const entry = (id: number, at = 0) => ({ id, at, item: item(id) })
/** Offers the result `item(logId)` for a trigger of that logId. */
const offer = (outbox: Outbox.Outbox["Type"], logId: number) =>
  outbox.offer(new Wire.TriggerParam({ logId, logDateTime: 1795459206267 }), 200, `r${logId}`)
/**
 * Waits (in real time: the journal's group commit is a plain timer) until `done` holds, as it does once the
 * journal has been written; fails after 10 s.
 */
const until = (done: () => boolean) =>
  Effect.promise(async () => {
    for (const started = Date.now(); !done(); await new Promise((resolve) => setTimeout(resolve, 10))) {
      if (Date.now() - started > 10_000) throw new Error("the journal was not written within 10 s")
    }
  })
/** The journal's lines. */
const journalLines = (dir: string) => {
  try {
    return Fs.readFileSync(Path.join(dir, "journal.log"), "utf8").split("\n").filter((line) => line !== "")
  } catch {
    return []
  }
}

describe("OutboxStore journal", () => {
  it("replays adds and deliveries, skipping a record cut short by a crash", () => {
    const text = [
      `A ${JSON.stringify({ id: 1, at: 5, item: { logId: 11, logDateTim: 1, handleCode: 200 } })}`,
      `A ${JSON.stringify({ id: 2, at: 6, item: { logId: 12, logDateTim: 1, handleCode: 500, handleMsg: "x" } })}`,
      "D 1",
      `A {"id":3,"at":7,"item":{"logId":13,"logDa`
    ].join("\n")
    const { entries, skipped } = OutboxStore.replay(text)
    assert.strictEqual(skipped, 1)
    assert.deepStrictEqual(entries.map((e) => [e.id, e.item.logId, e.item.handleMsg]), [[2, 12, "x"]])
  })

  it("writes an add record as JSON.stringify would, and reads it back whole", () =>
    fc.assert(
      fc.property(
        fc.nat(),
        fc.nat(),
        Arbitrary.make(Wire.CallbackItem),
        (id, at, item) => {
          const record = OutboxStore.addRecord({ id, at, item })
          const expected = {
            id,
            at,
            item: {
              logId: item.logId,
              logDateTim: item.logDateTim,
              handleCode: item.handleCode,
              handleMsg: item.handleMsg
            }
          }
          assert.strictEqual(record, `A ${JSON.stringify(expected)}\n`)
          const [back] = OutboxStore.replay(record).entries
          assert.deepStrictEqual({ ...back.item }, JSON.parse(JSON.stringify(expected.item)))
        }
      ),
      { numRuns: 500 }
    ))

  it.effect("what was added survives a restart; what was removed does not", () =>
    Effect.gen(function*() {
      const dir = outboxDir()
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* OutboxStore.makeFile(dir)
        assert.deepStrictEqual(store.recovered, [])
        store.add([entry(1), entry(2), entry(3)])
        store.remove([2])
      }))
      const again = yield* Effect.scoped(Effect.map(OutboxStore.makeFile(dir), (store) => store.recovered))
      assert.deepStrictEqual(again.map((e) => e.id), [1, 3])
      assert.deepStrictEqual(again[0].item, item(1))
    }))

  it.effect("a result removed before its add was written leaves no record; one removed after gets a mark", () =>
    Effect.gen(function*() {
      const dir = outboxDir()
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* OutboxStore.makeFile(dir)
        store.add([entry(1), entry(2)])
        store.remove([1])
        yield* until(() => journalLines(dir).length > 0)
        assert.deepStrictEqual(journalLines(dir).map((line) => line.slice(0, 10)), [`A {"id":2,`])
        store.remove([2])
        yield* until(() => journalLines(dir).length > 1)
        assert.deepStrictEqual(journalLines(dir).slice(1), ["D 2"])
      }))
      const again = yield* Effect.scoped(Effect.map(OutboxStore.makeFile(dir), (store) => store.recovered))
      assert.deepStrictEqual(again, [])
    }))

  it("replays accepted triggers: open until their result, started or not, closed by a delivery", () => {
    const text = [
      `T {"id":1,"at":100,"logId":11,"logDateTime":7}`,
      `T {"id":2,"at":101,"logId":12,"logDateTime":7}`,
      `T {"id":3,"at":102,"logId":13,"logDateTime":7}`,
      `T {"id":4,"at":103,"logId":14,"logDateTime":7}`,
      "S 1,3",
      `A ${JSON.stringify({ id: 3, at: 110, item: { logId: 13, logDateTim: 7, handleCode: 200 } })}`,
      "D 4",
      `T {"id":5,"at":104,"logId":15,"logDa`
    ].join("\n")
    const { entries, openTriggers, skipped } = OutboxStore.replay(text)
    assert.strictEqual(skipped, 1)
    assert.deepStrictEqual(entries.map((e) => [e.id, e.item.logId]), [[3, 13]])
    assert.deepStrictEqual(openTriggers, [
      { id: 1, at: 100, logId: 11, logDateTime: 7, started: true },
      { id: 2, at: 101, logId: 12, logDateTime: 7, started: false }
    ])
  })

  it.effect("an accepted trigger is written before it is answered; a restart finds those left without a result", () =>
    Effect.gen(function*() {
      const dir = outboxDir()
      const admission = (id: number) => ({ id, at: 1000 + id, logId: 100 + id, logDateTime: 7 })
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* OutboxStore.makeFile(dir)
        const linesWhenRecorded: Array<number> = []
        const recorded = (id: number) => () => linesWhenRecorded[id] = journalLines(dir).length
        store.admit(admission(1), recorded(1))
        store.admit(admission(2), recorded(2))
        store.admit(admission(3), recorded(3))
        yield* until(() => linesWhenRecorded.length === 4)
        // Answered only once their records were in the journal.
        assert.deepStrictEqual(linesWhenRecorded.slice(1), [3, 3, 3])
        store.started(1)
        store.started(3)
        // Run 3 ended and its result was taken by the admin: nothing is owed for it.
        store.add([{ id: 3, at: 2000, item: item(103) }])
        store.remove([3])
        store.admit(admission(4), () => undefined)
        store.add([{ id: 4, at: 2001, item: item(104) }])
      }))
      const again = yield* Effect.scoped(
        Effect.map(OutboxStore.makeFile(dir), (store) => ({ open: store.openTriggers, results: store.recovered }))
      )
      assert.deepStrictEqual(again.open, [{ ...admission(1), started: true }, { ...admission(2), started: false }])
      assert.deepStrictEqual(again.results.map((e) => [e.id, e.item.logId]), [[4, 104]])
    }))

  it.effect("compacts a journal of mostly delivered results, keeping the live ones", () =>
    Effect.gen(function*() {
      const dir = outboxDir()
      const journal = Path.join(dir, "journal.log")
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* OutboxStore.makeFile(dir)
        const ids = Array.from({ length: 25_000 }, (_, i) => i + 1)
        store.add(ids.map((id) => entry(id)))
        // Written before they are removed (a result removed before its write leaves no record at all).
        yield* until(() => journalLines(dir).length === 25_000)
        store.remove(ids.filter((id) => id % 1000 !== 0))
        // A further add triggers the compaction after its write.
        store.add([entry(30_000)])
        yield* until(() => journalLines(dir).length < 100)
        // Writes after the compaction go on in the compacted journal.
        store.add([entry(30_001)])
      }))
      const lines = Fs.readFileSync(journal, "utf8").trim().split("\n")
      assert.isBelow(lines.length, 100)
      const recovered = yield* Effect.scoped(Effect.map(OutboxStore.makeFile(dir), (store) => store.recovered))
      assert.deepStrictEqual(recovered.map((e) => e.id), [
        ...Array.from({ length: 25 }, (_, i) => (i + 1) * 1000),
        30_000,
        30_001
      ])
    }))
})

/**
 * An admin client whose callbacks fail while `down` is true, or as `answer` says for the n-th call (undefined:
 * as `down` says); records what it accepted.
 */
const flakyAdmin = (
  answer: (call: number) => Effect.Effect<never, AdminClient.AdminError> | undefined = () => undefined
) => {
  const accepted: Array<number> = []
  let attempts = 0
  const state = { down: true }
  const client = AdminClient.AdminClient.of({
    registry: () => Effect.void,
    registryRemove: () => Effect.void,
    callback: (items) =>
      Effect.suspend(() => {
        attempts++
        const scripted = answer(attempts)
        if (scripted !== undefined) return scripted
        if (state.down) return Effect.fail(adminDown)
        accepted.push(...items.map((i) => i.logId))
        return Effect.void
      })
  })
  return { accepted, client, state, attempts: () => attempts }
}

/** A logger layer that keeps the messages logged at `level`, and what it kept. */
const logged = (level: "Warning" | "Error") => {
  const messages: Array<string> = []
  const logger = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === level) messages.push(String(message))
    })
  )
  return { logger, messages }
}

const outboxLayer = (
  admin: { readonly client: AdminClient.Service },
  store: Layer.Layer<OutboxStore.OutboxStore>,
  options: ExecutorConfig.Options = {}
) =>
  Outbox.layer.pipe(
    Layer.provide(Layer.mergeAll(
      ExecutorConfig.layer(options),
      Layer.succeed(AdminClient.AdminClient, admin.client),
      RunLogs.layer.pipe(Layer.provide(JobLog.layerMemory)),
      store
    ))
  )

describe("Outbox", () => {
  it.effect("at start, triggers an earlier process accepted and left without a result are reported failed, first", () =>
    Effect.gen(function*() {
      const dir = outboxDir()
      const at = new Date(2026, 11, 5, 20, 31, 7).getTime()
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* OutboxStore.makeFile(dir)
        store.admit({ id: 1, at, logId: 101, logDateTime: 7 }, () => undefined)
        store.admit({ id: 2, at, logId: 102, logDateTime: 7 }, () => undefined)
        store.started(1)
        store.admit({ id: 3, at, logId: 103, logDateTime: 7 }, () => undefined)
        store.add([{ id: 3, at, item: item(103) }])
      }))
      const delivered: Array<Wire.CallbackItem> = []
      const client = AdminClient.AdminClient.of({
        registry: () => Effect.void,
        registryRemove: () => Effect.void,
        callback: (items) => Effect.sync(() => delivered.push(...items))
      })
      yield* Effect.scoped(
        Effect.gen(function*() {
          const outbox = yield* Outbox.Outbox
          yield* outbox.drained
          // A trigger of this process gets an id after the earlier ones.
          offer(outbox, 104)
          yield* outbox.drained
        }).pipe(
          Effect.provide(outboxLayer({ client }, Layer.scoped(OutboxStore.OutboxStore, OutboxStore.makeFile(dir))))
        )
      )
      assert.deepStrictEqual(delivered.map((i) => [i.logId, i.handleCode]), [[101, 500], [102, 500], [103, 200], [
        104,
        200
      ]])
      assert.strictEqual(
        delivered[0].handleMsg,
        "the executor stopped during this run and has restarted (the trigger was accepted at 2026-12-05 20:31:07); " +
          "the job may have partly run. [job running, killed]"
      )
      assert.strictEqual(
        delivered[1].handleMsg,
        "the executor stopped before this run started and has restarted (the trigger was accepted at " +
          "2026-12-05 20:31:07). [job not executed, in the job queue, killed.]"
      )
      // Delivered: nothing is owed at the next start.
      const again = yield* Effect.scoped(
        Effect.map(OutboxStore.makeFile(dir), (store) => [...store.openTriggers, ...store.recovered])
      )
      assert.deepStrictEqual(again, [])
    }))

  it.effect("keeps retrying while the admin is away, backing off to 30 s, and delivers once it is back", () =>
    Effect.gen(function*() {
      const admin = flakyAdmin()
      yield* Effect.scoped(Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        offer(outbox, 1)
        offer(outbox, 2)
        yield* TestClock.adjust(Duration.seconds(1 + 2 + 4 + 8 + 16 + 30 + 30))
        assert.strictEqual(admin.attempts(), 8)
        assert.strictEqual(yield* outbox.backlog, 2)
        admin.state.down = false
        yield* TestClock.adjust(Duration.seconds(30))
        assert.deepStrictEqual(admin.accepted, [1, 2])
        assert.strictEqual(yield* outbox.backlog, 0)
        yield* TestClock.adjust(Duration.seconds(120))
        assert.deepStrictEqual(admin.accepted, [1, 2])
      })).pipe(Effect.provide(outboxLayer(admin, OutboxStore.layerMemory)))
    }))

  it.effect(
    "a lost run is reported however long ago it was accepted, and a journal of 150,000 starts",
    () =>
      Effect.gen(function*() {
        const now = new Date(2026, 11, 5, 12).getTime()
        yield* TestClock.setTime(now)
        const dir = outboxDir()
        // Accepted 8 days ago (past the 7-day age bound), then 150,000 more left without a result.
        const records = [OutboxStore.triggerRecord({ id: 1, at: now - 8 * 86_400_000, logId: 1, logDateTime: 7 })]
        for (let id = 2; id <= 150_001; id++) {
          records.push(OutboxStore.triggerRecord({ id, at: now, logId: id, logDateTime: 7 }))
        }
        Fs.writeFileSync(Path.join(dir, "journal.log"), records.join(""))
        const admin = flakyAdmin()
        admin.state.down = false
        yield* Effect.scoped(Effect.gen(function*() {
          const outbox = yield* Outbox.Outbox
          yield* outbox.drained
        })).pipe(
          Effect.provide(outboxLayer(admin, Layer.scoped(OutboxStore.OutboxStore, OutboxStore.makeFile(dir)), {
            callbackMaxItems: 1_000_000
          }))
        )
        assert.strictEqual(admin.accepted.length, 150_001)
        assert.strictEqual(admin.accepted[0], 1)
      }),
    60_000
  )

  it.effect("a call that dies or is interrupted (not by closing) is retried like a failed one", () =>
    Effect.gen(function*() {
      const admin = flakyAdmin((call) =>
        call === 1 ? Effect.interrupt : call === 2 ? Effect.die(new Error("a bug in the client")) : undefined
      )
      admin.state.down = false
      const { logger, messages: warnings } = logged("Warning")
      yield* Effect.scoped(Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        offer(outbox, 1)
        yield* TestClock.adjust(Duration.seconds(1 + 2))
        assert.strictEqual(admin.attempts(), 3)
        assert.deepStrictEqual(admin.accepted, [1])
        assert.strictEqual(yield* outbox.backlog, 0)
      })).pipe(
        Effect.provide(outboxLayer(admin, OutboxStore.layerMemory)),
        Effect.provide(logger)
      )
      // Each says why on one line, not with a stack trace.
      assert.strictEqual(warnings.length, 2)
      assert.match(warnings[0], /attempt 1\), next try in 1s: the call was interrupted$/)
      assert.match(
        warnings[1],
        /attempt 2\), next try in 2s: the call failed unexpectedly \(Error: a bug in the client\)$/
      )
      for (const warning of warnings) assert.notInclude(warning, "\n")
    }))

  it.effect("a refusal is warned of with what to look at, as the registry beat says it", () =>
    Effect.gen(function*() {
      const wrongToken = new AdminClient.AdminError({
        operation: "callback",
        attempts: [{
          url: "http://127.0.0.1:8080/xxl-job-admin/api/callback",
          problem: AdminClient.AdminProblem.Refused({ code: 500, msg: "The access token is wrong." })
        }]
      })
      const admin = flakyAdmin((call) => call === 1 ? Effect.fail(wrongToken) : undefined)
      admin.state.down = false
      const { logger, messages: warnings } = logged("Warning")
      yield* Effect.scoped(Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        offer(outbox, 1)
        yield* TestClock.adjust(Duration.seconds(1))
        assert.deepStrictEqual(admin.accepted, [1])
      })).pipe(
        Effect.provide(outboxLayer(admin, OutboxStore.layerMemory)),
        Effect.provide(logger)
      )
      assert.deepStrictEqual(warnings, [
        `callback of 1 result(s) failed (attempt 1), next try in 1s: ${wrongToken.message} → XXL_JOB_ACCESS_TOKEN ` +
        "(accessToken) must equal xxl.job.accessToken in the admin's application.properties"
      ])
    }))

  it.effect("with a plain client: answers come by callback, a failure is retried, and closing aborts the calls under way, keeping their results", () =>
    Effect.gen(function*() {
      const dir = outboxDir()
      const store = Layer.scoped(OutboxStore.OutboxStore, OutboxStore.makeFile(dir))
      const calls: Array<{
        readonly logIds: Array<number>
        readonly done: (error: AdminClient.AdminError | undefined) => void
      }> = []
      const aborted: Array<number> = []
      const plain = {
        // The engine's private plain form, as AdminClient.make gives its own clients.
        client: withPlainCallback(
          AdminClient.AdminClient.of({
            registry: () => Effect.void,
            registryRemove: () => Effect.void,
            callback: () => Effect.die("the outbox should use the plain form")
          }),
          (items, done) => {
            const call = { logIds: items.map((i) => i.logId), done }
            calls.push(call)
            return () => aborted.push(...call.logIds)
          }
        )
      }
      const nextTurn = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 0)))
      yield* Effect.scoped(Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        offer(outbox, 1)
        yield* nextTurn
        assert.deepStrictEqual(calls.map((call) => call.logIds), [[1]])
        calls[0].done(adminDown)
        yield* TestClock.adjust(Duration.seconds(1))
        assert.deepStrictEqual(calls.map((call) => call.logIds), [[1], [1]])
        calls[1].done(undefined)
        assert.strictEqual(yield* outbox.backlog, 0)
        offer(outbox, 2)
        yield* nextTurn
        assert.deepStrictEqual(calls.map((call) => call.logIds), [[1], [1], [2]])
      })).pipe(
        Effect.provide(outboxLayer(plain, store)),
        // Closing waits up to 10 s (on the TestClock) for the admin, then aborts the call and keeps result 2.
        Effect.race(TestClock.adjust(Duration.seconds(1)).pipe(Effect.forever))
      )
      assert.deepStrictEqual(aborted, [2])
      assert.strictEqual(calls.length, 3)
      const leftover = yield* Effect.scoped(Effect.map(OutboxStore.makeFile(dir), (s) => s.recovered))
      assert.deepStrictEqual(leftover.map((entry) => entry.item.logId), [2])
    }))

  it.effect("bounds: the oldest results past the count or age are dropped, and the drop is logged as an error", () =>
    Effect.gen(function*() {
      const admin = flakyAdmin()
      const { logger, messages: errors } = logged("Error")
      yield* Effect.scoped(Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        for (const logId of [1, 2, 3, 4, 5]) offer(outbox, logId)
        assert.strictEqual(yield* outbox.backlog, 3)
        assert.isTrue(errors.some((e) => e.includes("DROPPED 1 result(s)") && e.includes("logIds 1")))
        assert.isTrue(errors.some((e) => e.includes("logIds 2")))
        yield* TestClock.adjust(Duration.hours(2))
        assert.strictEqual(yield* outbox.backlog, 0)
        assert.isTrue(errors.some((e) => e.includes("logIds 3,4,5")))
        admin.state.down = false
        yield* TestClock.adjust(Duration.seconds(60))
        assert.deepStrictEqual(admin.accepted, [])
      })).pipe(
        Effect.provide(outboxLayer(admin, OutboxStore.layerMemory, { callbackMaxItems: 3, callbackMaxAgeHours: 1 })),
        Effect.provide(logger)
      )
    }))

  it.effect("results left in the journal by an earlier process are sent first", () =>
    Effect.gen(function*() {
      const dir = outboxDir()
      const store = Layer.scoped(OutboxStore.OutboxStore, OutboxStore.makeFile(dir))
      const down = flakyAdmin()
      yield* Effect.scoped(Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        offer(outbox, 1)
        offer(outbox, 2)
      })).pipe(
        Effect.provide(outboxLayer(down, store)),
        // Closing waits up to 10 s (on the TestClock) for the admin, then keeps the results on disk.
        Effect.race(TestClock.adjust(Duration.seconds(1)).pipe(Effect.forever))
      )
      const up = flakyAdmin()
      up.state.down = false
      yield* Effect.scoped(Effect.gen(function*() {
        const outbox = yield* Outbox.Outbox
        offer(outbox, 3)
        yield* TestClock.adjust(Duration.seconds(1))
        yield* outbox.drained
      })).pipe(Effect.provide(outboxLayer(up, store)))
      assert.deepStrictEqual(up.accepted, [1, 2, 3])
      const leftover = yield* Effect.scoped(Effect.map(OutboxStore.makeFile(dir), (s) => s.recovered))
      assert.deepStrictEqual(leftover, [])
    }))
})
