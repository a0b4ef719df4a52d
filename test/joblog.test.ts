import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { JobLog, JobLogFile } from "../src/index.js"

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-log-"))
const D = new Date(2026, 10, 23, 12, 30).getTime()

describe("JobLog paging rules", () => {
  it("pages 1-based, newline-terminated, toLineNum the last line; isEnd false", () => {
    const lines = ["a", "b", "c"]
    assert.deepStrictEqual({ ...JobLog.page(lines, 2) }, {
      fromLineNum: 2,
      toLineNum: 3,
      logContent: "b\nc\n",
      isEnd: false
    })
    assert.deepStrictEqual({ ...JobLog.page(lines, 0) }, {
      fromLineNum: 0,
      toLineNum: 3,
      logContent: "a\nb\nc\n",
      isEnd: false
    })
    assert.deepStrictEqual({ ...JobLog.page(lines, 4) }, { fromLineNum: 4, toLineNum: 3, logContent: "", isEnd: false })
    assert.deepStrictEqual({ ...JobLog.notFound(1) }, {
      fromLineNum: 1,
      toLineNum: 0,
      logContent: "readLog fail, logFile not exists",
      isEnd: true
    })
  })

  it("formats entries as Java does: yyyy-MM-dd HH:mm:ss [source]-[level]-[thread] message", () => {
    const entry = JobLog.formatEntry({ date: new Date(D), source: "echo", level: "INFO", thread: "#1", message: "hi" })
    assert.strictEqual(entry, "2026-11-23 12:30:00 [echo]-[INFO]-[#1] hi")
  })
})

describe("JobLogFile", () => {
  it.scoped("writes {logPath}/{yyyy-MM-dd}/{logId}.log and reads pages back, multi-line entries included", () =>
    Effect.gen(function*() {
      const root = tempDir()
      const store = yield* JobLogFile.make(root)
      const key = { logId: 42, logDateTime: D }
      yield* Effect.scoped(Effect.gen(function*() {
        const writer = yield* store.writer(key)
        writer.append("one")
        writer.append("two\nthree")
        yield* writer.flush
        // Live tail: what is flushed is readable while the run goes on.
        assert.strictEqual((yield* store.read(key, 1)).logContent, "one\ntwo\nthree\n")
        writer.append("four")
      }))
      yield* store.append(key, "five")
      const text = Fs.readFileSync(Path.join(root, "2026-11-23", "42.log"), "utf8")
      assert.strictEqual(text, "one\ntwo\nthree\nfour\nfive\n")
      const page = yield* store.read(key, 4)
      assert.deepStrictEqual([page.logContent, page.toLineNum, page.isEnd], ["four\nfive\n", 5, false])
      assert.strictEqual(
        (yield* store.read({ logId: 43, logDateTime: D }, 1)).logContent,
        "readLog fail, logFile not exists"
      )
    }))

  it.scoped("finds a run triggered just before midnight when the admin rounded its time into the next day", () =>
    Effect.gen(function*() {
      const root = tempDir()
      const store = yield* JobLogFile.make(root)
      const late = new Date(2026, 10, 23, 23, 59, 59, 700).getTime()
      yield* store.append({ logId: 7, logDateTime: late }, "late")
      const rounded = new Date(2026, 10, 24, 0, 0, 0).getTime()
      assert.strictEqual((yield* store.read({ logId: 7, logDateTime: rounded }, 1)).logContent, "late\n")
    }))

  it.effect("retention deletes day folders past the limit and keeps the rest; off below 3 days", () =>
    Effect.gen(function*() {
      const root = tempDir()
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
      yield* store.append({ logId: 1, logDateTime: D }, "x")
      assert.strictEqual((yield* store.read({ logId: 1, logDateTime: D }, 1)).logContent, "x\n")
      assert.isTrue((yield* store.read({ logId: 1, logDateTime: D + 3 * 86_400_000 }, 1)).isEnd)
    }).pipe(Effect.provide(JobLog.layerMemory)))
})
