import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Metric, TestClock } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { JobLog } from "../src/index.js"
import * as JobLogFile from "../src/internal/jobLogFile.js"
import * as MemoryStore from "../src/internal/jobLogMemory.js"
import { formatEntry, notFound, page } from "../src/internal/logLines.js"
import * as Metrics from "../src/internal/metrics.js"
import * as RunLogs from "../src/internal/runLogs.js"
import { capped } from "../src/internal/runLogs.js"
import { runLogsOver, write } from "./helpers/logStores.js"
import { tempDir } from "./helpers/tempDirs.js"

const logDir = () => tempDir("xxl-log-")
const D = new Date(2026, 10, 23, 12, 30).getTime()

describe("JobLog paging rules", () => {
  it("pages 1-based, newline-terminated, toLineNum the last line; isEnd false", () => {
    const lines = ["a", "b", "c"]
    assert.deepStrictEqual({ ...page(lines, 2) }, {
      fromLineNum: 2,
      toLineNum: 3,
      logContent: "b\nc\n",
      isEnd: false
    })
    assert.deepStrictEqual({ ...page(lines, 0) }, {
      fromLineNum: 0,
      toLineNum: 3,
      logContent: "a\nb\nc\n",
      isEnd: false
    })
    assert.deepStrictEqual({ ...page(lines, 4) }, { fromLineNum: 4, toLineNum: 3, logContent: "", isEnd: false })
    assert.deepStrictEqual({ ...notFound(1) }, {
      fromLineNum: 1,
      toLineNum: 0,
      logContent: "readLog fail, logFile not exists",
      isEnd: true
    })
  })

  it("bounds a page by bytes, at least one line, and continues from toLineNum + 1", () => {
    const lines = ["aaaa", "bbbb", "cccccccccc", "d"]
    assert.deepStrictEqual(
      [page(lines, 1, 8).logContent, page(lines, 1, 8).toLineNum],
      ["aaaa\nbbbb\n", 2]
    )
    assert.deepStrictEqual([page(lines, 3, 8).logContent, page(lines, 3, 8).toLineNum], [
      "cccccccccc\n",
      3
    ])
    assert.deepStrictEqual([page(lines, 4, 8).logContent, page(lines, 4, 8).toLineNum], ["d\n", 4])
  })

  it("a capped writer keeps the head and the tail within the budget, with a marker between", () => {
    const written: Array<string> = []
    const writer = capped((entry) => written.push(entry), 100)
    for (let i = 0; i < 100; i++) writer.append(`entry ${String(i).padStart(2, "0")}`) // 9 bytes with its newline
    writer.close()
    // Head: 50 bytes (5 entries); tail: the last 50 bytes (5 entries); 90 left out.
    assert.deepStrictEqual(written.slice(0, 5), ["entry 00", "entry 01", "entry 02", "entry 03", "entry 04"])
    assert.match(written[5], /log truncated: 90 entries \(810 bytes\) left out here.*within 100 bytes/)
    assert.deepStrictEqual(written.slice(6), ["entry 95", "entry 96", "entry 97", "entry 98", "entry 99"])
    // Within the budget nothing changes and no marker is written.
    const small: Array<string> = []
    const roomy = capped((entry) => small.push(entry), 1000)
    roomy.append("a")
    roomy.append("b")
    roomy.close()
    assert.deepStrictEqual(small, ["a", "b"])
  })

  it("formats entries as Java does: yyyy-MM-dd HH:mm:ss [source]-[level]-[thread] message", () => {
    const entry = formatEntry({ date: new Date(D), source: "echo", level: "INFO", thread: "#1", message: "hi" })
    assert.strictEqual(entry, "2026-11-23 12:30:00 [echo]-[INFO]-[#1] hi")
  })
})

describe("JobLogFile", () => {
  it.scoped("writes {logPath}/{yyyy-MM-dd}/{logId}.log and reads pages back, multi-line entries included", () =>
    Effect.gen(function*() {
      const root = logDir()
      const store = yield* JobLogFile.make(root)
      const key = { logId: 42, logDateTime: D }
      yield* write(store, key, "one", "two\nthree")
      // Live tail: what is written is readable while the run goes on.
      assert.strictEqual((yield* store.read(key, 1)).logContent, "one\ntwo\nthree\n")
      yield* write(store, key, "four")
      yield* write(store, key, "five")
      const page = yield* store.read(key, 4)
      assert.deepStrictEqual([page.logContent, page.toLineNum, page.isEnd], ["four\nfive\n", 5, false])
      const text = Fs.readFileSync(Path.join(root, "2026-11-23", "42.log"), "utf8")
      assert.strictEqual(text, "one\ntwo\nthree\nfour\nfive\n")
      assert.strictEqual(
        (yield* store.read({ logId: 43, logDateTime: D }, 1)).logContent,
        "readLog fail, logFile not exists"
      )
    }))

  it.scoped("finds a run triggered just before midnight when the admin rounded its time into the next day", () =>
    Effect.gen(function*() {
      const root = logDir()
      const store = yield* JobLogFile.make(root)
      const late = new Date(2026, 10, 23, 23, 59, 59, 700).getTime()
      yield* write(store, { logId: 7, logDateTime: late }, "late")
      const rounded = new Date(2026, 10, 24, 0, 0, 0).getTime()
      assert.strictEqual((yield* store.read({ logId: 7, logDateTime: rounded }, 1)).logContent, "late\n")
    }))

  it.scoped("pages a large, growing log by line number, in bounded pages, from any line", () =>
    Effect.gen(function*() {
      const root = logDir()
      const store = yield* JobLogFile.make(root, { pageMaxBytes: 4096 })
      const key = { logId: 9, logDateTime: D }
      const line = (n: number) => `line ${n} ` + "é".repeat(n % 7)
      const writeLines = (from: number, to: number) =>
        write(store, key, ...Array.from({ length: to - from + 1 }, (_, i) => line(from + i)))
      yield* writeLines(1, 5000)
      // Pages anywhere: the lines asked for, whole, and no more than about the budget.
      for (const from of [1, 1023, 1024, 1025, 2049, 4990]) {
        const page = yield* store.read(key, from)
        const lines = page.logContent.split("\n").slice(0, -1)
        assert.strictEqual(lines[0], line(from))
        assert.strictEqual(page.toLineNum, from + lines.length - 1)
        assert.deepStrictEqual(lines, Array.from({ length: lines.length }, (_, i) => line(from + i)))
        assert.isAtMost(Buffer.byteLength(page.logContent) - Buffer.byteLength(lines.at(-1)!) - 1, 4096)
      }
      // Following the log page after page gives every line once, in order, also as it grows.
      const seen: Array<string> = []
      let next = 1
      for (let round = 0; round < 2; round++) {
        while (true) {
          const page = yield* store.read(key, next)
          if (page.logContent === "") {
            assert.strictEqual(page.toLineNum, next - 1)
            break
          }
          seen.push(...page.logContent.split("\n").slice(0, -1))
          next = page.toLineNum + 1
        }
        if (round === 0) yield* writeLines(5001, 6000)
      }
      assert.deepStrictEqual(seen, Array.from({ length: 6000 }, (_, i) => line(i + 1)))
    }))

  it.scoped("a line longer than a page still comes whole", () =>
    Effect.gen(function*() {
      const store = yield* JobLogFile.make(logDir(), { pageMaxBytes: 10 })
      const key = { logId: 10, logDateTime: D }
      yield* write(store, key, "x".repeat(50), "short")
      const first = yield* store.read(key, 1)
      assert.deepStrictEqual([first.logContent, first.toLineNum], ["x".repeat(50) + "\n", 1])
      const second = yield* store.read(key, 2)
      assert.deepStrictEqual([second.logContent, second.toLineNum], ["short\n", 2])
    }))

  it.effect("retention deletes day folders past the limit and keeps the rest; off below 3 days", () =>
    Effect.gen(function*() {
      const root = logDir()
      for (const day of ["2026-11-01", "2026-11-19", "2026-11-20", "2026-11-23", "gluesource"]) {
        Fs.mkdirSync(Path.join(root, day))
      }
      const now = new Date(2026, 10, 23, 10)
      assert.deepStrictEqual(yield* JobLogFile.cleanup(root, 2, now), [])
      const removed = yield* JobLogFile.cleanup(root, 3, now)
      assert.deepStrictEqual([...removed].sort(), ["2026-11-01", "2026-11-19"])
      assert.deepStrictEqual(Fs.readdirSync(root).sort(), ["2026-11-20", "2026-11-23", "gluesource"])
    }))
})

describe("JobLog.layerMemory", () => {
  it.effect("keeps runs apart by day and logId", () =>
    Effect.gen(function*() {
      const store = yield* JobLog.JobLog
      yield* write(store, { logId: 1, logDateTime: D }, "x")
      assert.strictEqual((yield* store.read({ logId: 1, logDateTime: D }, 1)).logContent, "x\n")
      assert.isTrue((yield* store.read({ logId: 1, logDateTime: D + 3 * 86_400_000 }, 1)).isEnd)
    }).pipe(Effect.provide(JobLog.layerMemory)))
})

describe("run logs (the executor's side)", () => {
  /** A memory store that records each write's batch, and fails the writes `failing` says to fail. */
  const recordingStore = (failing: (call: number) => boolean) =>
    Effect.sync(() => {
      const memory = JobLog.JobLog.of(MemoryStore.make())
      const batches: Array<ReadonlyArray<JobLog.Lines>> = []
      let calls = 0
      const store: JobLog.Store = {
        write: (batch) =>
          Effect.suspend(() => {
            if (failing(++calls)) {
              return Effect.fail(new JobLog.JobLogError({ operation: "write", cause: new Error("disk full") }))
            }
            batches.push(batch)
            return memory.write(batch)
          }),
        read: memory.read
      }
      return { store, batches }
    })

  it.scoped("gathers the entries of many runs into one write, in order; a read sees every entry of its run", () =>
    Effect.gen(function*() {
      const { batches, store } = yield* recordingStore(() => false)
      const runLogs = yield* runLogsOver(store)
      const a = { logId: 1, logDateTime: D }
      const b = { logId: 2, logDateTime: D }
      const appendA = runLogs.appender(a)
      appendA("a1")
      runLogs.append(b, "b1")
      appendA("a2\na3")
      assert.strictEqual(batches.length, 0)
      // A read writes its run's lines first.
      assert.strictEqual((yield* runLogs.read(a, 1)).logContent, "a1\na2\na3\n")
      assert.deepStrictEqual(batches, [[{ key: a, text: "a1\na2\na3\n" }]])
      // Without a read, what gathered is written within a few milliseconds, every run in one write (the shorter
      // text first: the order of runs within a write is free).
      appendA("a4 and more")
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 100)))
      assert.deepStrictEqual(batches.slice(1), [[{ key: b, text: "b1\n" }, { key: a, text: "a4 and more\n" }]])
    }))

  it.scoped("a write the store fails keeps its lines, ahead of the newer ones, and is tried again", () =>
    Effect.gen(function*() {
      const { batches, store } = yield* recordingStore((call) => call <= 2)
      const runLogs = yield* runLogsOver(store)
      const key = { logId: 3, logDateTime: D }
      runLogs.append(key, "first")
      // The read's write fails: the store has nothing of it yet, and the lines stay.
      assert.strictEqual((yield* runLogs.read(key, 1)).logContent, "readLog fail, logFile not exists")
      runLogs.append(key, "second")
      assert.strictEqual((yield* runLogs.read(key, 1)).logContent, "readLog fail, logFile not exists")
      runLogs.append(key, "third")
      assert.strictEqual((yield* runLogs.read(key, 1)).logContent, "first\nsecond\nthird\n")
      assert.deepStrictEqual(batches, [[{ key, text: "first\nsecond\nthird\n" }]])
    }))
})

describe("run logs: a store that stops answering", () => {
  it.scoped("a /log read gives up at the deadline; the write it waited for is not cut short", () =>
    Effect.gen(function*() {
      const memory = MemoryStore.make()
      let writes = 0
      let release = () => {}
      const store: JobLog.Store = {
        // The first write hangs until released (a store that stopped answering), the others go through.
        write: (batch) =>
          ++writes === 1
            ? Effect.zipRight(
              Effect.async<void>((resume) => void (release = () => resume(Effect.void))),
              memory.write(batch)
            )
            : memory.write(batch),
        read: memory.read
      }
      const runLogs = yield* runLogsOver(store)
      const key = { logId: 5, logDateTime: D }
      runLogs.append(key, "before the stall")
      const read = yield* Effect.fork(Effect.flip(runLogs.read(key, 1)))
      yield* TestClock.adjust(RunLogs.readDeadline)
      const error = yield* Fiber.join(read)
      assert.strictEqual(error.reason, "the run log store did not answer within 2s")
      // The store answers again: the stalled write completes, and nothing was lost.
      release()
      assert.strictEqual((yield* runLogs.read(key, 1)).logContent, "before the stall\n")
    }))
})

describe("run logs: a store that cannot write for a while (a full disk)", () => {
  /** A memory store that fails every write while `down`, and records the batches it took. */
  const storeWithOutage = () => {
    const memory = MemoryStore.make()
    const state = { down: true }
    const batches: Array<ReadonlyArray<JobLog.Lines>> = []
    const store: JobLog.Store = {
      write: (batch) =>
        Effect.suspend(() => {
          if (state.down) {
            return Effect.fail(
              new JobLog.JobLogError({ operation: "write", cause: new Error("ENOSPC: no space left") })
            )
          }
          batches.push(batch)
          return memory.write(batch)
        }),
      read: memory.read
    }
    return { batches, state, store }
  }
  const dropped = Effect.map(Metric.value(Metrics.logLinesDropped), (state) => state.count)

  it.scoped("what waits is bounded for all runs together; past it lines are dropped, counted and marked", () =>
    Effect.gen(function*() {
      const { state, store } = storeWithOutage()
      const runLogs = yield* runLogsOver(store, { maxHeldChars: 60, chunkChars: 1000 })
      const a = { logId: 1, logDateTime: D }
      const b = { logId: 2, logDateTime: D }
      const before = yield* dropped
      for (let i = 1; i <= 6; i++) runLogs.append(a, `a line ${i}`) // 9 characters each with its newline
      for (let i = 1; i <= 3; i++) runLogs.append(b, `b line ${i}`)
      // 60 characters hold six lines: a 1-6; b's three are dropped.
      assert.strictEqual((yield* dropped) - before, 3)
      state.down = false
      assert.strictEqual(
        (yield* runLogs.read(a, 1)).logContent,
        Array.from({ length: 6 }, (_, i) => `a line ${i + 1}\n`).join("")
      )
      // Room again: b's next line comes after a marker that counts what went missing.
      runLogs.append(b, "b line 4")
      const logB = (yield* runLogs.read(b, 1)).logContent.split("\n")
      assert.match(logB[0], /^<br>----------- log truncated: 3 line\(s\) \(27 characters\) dropped here/)
      assert.strictEqual(logB[1], "b line 4")
    }))

  it.scoped("when the store takes lines again, the small backlogs go first and a long one is written in chunks", () =>
    Effect.gen(function*() {
      const { batches, state, store } = storeWithOutage()
      const runLogs = yield* runLogsOver(store, { maxHeldChars: 1_000_000, chunkChars: 100 })
      const big = { logId: 10, logDateTime: D }
      for (let i = 0; i < 100; i++) runLogs.append(big, `big line ${String(i).padStart(3, "0")}`) // 13 each
      for (let logId = 11; logId <= 13; logId++) runLogs.append({ logId, logDateTime: D }, `small run ${logId}`)
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 60)))
      state.down = false
      // The first write carries every small run's lines, then at most a chunk of the long one, last.
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1500)))
      const first = batches[0]
      assert.deepStrictEqual(first.slice(0, 3).map((lines) => lines.key.logId).sort(), [11, 12, 13])
      assert.strictEqual(first[3].key.logId, 10)
      assert.isAtMost(first[3].text.length, 100)
      // In the end the long one is all there, in order.
      const all = (yield* runLogs.read(big, 1)).logContent
      assert.strictEqual(
        all,
        Array.from({ length: 100 }, (_, i) => `big line ${String(i).padStart(3, "0")}\n`).join("")
      )
    }))

  it.scoped("a write the store took in part: only the part it names is kept and tried again", () =>
    Effect.gen(function*() {
      const memory = MemoryStore.make()
      let calls = 0
      const store: JobLog.Store = {
        write: (batch) =>
          Effect.suspend(() => {
            if (++calls > 1) return memory.write(batch)
            // The first write stores the first line of each run, then the disk is full.
            const taken = batch.map(({ key, text }) => ({ key, text: text.slice(0, text.indexOf("\n") + 1) }))
            const unwritten = batch.map(({ key, text }) => ({ key, text: text.slice(text.indexOf("\n") + 1) }))
            return Effect.zipRight(
              memory.write(taken),
              Effect.fail(new JobLog.JobLogError({ operation: "write", cause: new Error("ENOSPC"), unwritten }))
            )
          }),
        read: memory.read
      }
      const runLogs = yield* runLogsOver(store)
      const key = { logId: 20, logDateTime: D }
      runLogs.append(key, "one")
      runLogs.append(key, "two")
      runLogs.append(key, "three")
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1200)))
      assert.strictEqual((yield* runLogs.read(key, 1)).logContent, "one\ntwo\nthree\n")
    }))
})
