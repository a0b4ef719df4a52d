/**
 * Logs, for each store in `LOG_STORES` (`file,redis`): one run that writes `LOG_LINES` lines with `Effect.log`,
 * timed from its trigger to its result at the admin and to the first `/log` answer (a read waits for every
 * line appended before it to be stored, so that is when the whole log is written); then that log read back
 * through `/log` as the admin's log viewer reads it: single pages at the start, the middle and near the end
 * (a page should cost the same anywhere: no rescan from line 1), and every page from line 1 to the end.
 * The Redis store uses the Redis at 127.0.0.1:6379 under an app name of its own, deleted afterwards.
 */
import { createClient } from "@redis/client"
import * as Http from "node:http"
import { accepted, deadline, mib, ms, percentiles, post, seconds, startExecutor, triggerBody, within } from "./lib.js"

const LINES = Number(process.env.LOG_LINES ?? 1_000_000)
/** Each position is read this many times; the p50 is reported. */
const PROBES = Number(process.env.LOG_PROBES ?? 5)
const RUN_TIMEOUT_MS = Number(process.env.LOG_RUN_TIMEOUT_SECONDS ?? 60) * 1000
/** For each phase of reads (the probes; paging through). */
const READ_TIMEOUT_MS = Number(process.env.LOG_READ_TIMEOUT_SECONDS ?? 30) * 1000
const MAX_RUN_LOG_BYTES = 1024 * 1024 * 1024
const STORES = (process.env.LOG_STORES ?? "file,redis").split(",").map((s) => s.trim()).filter((s) => s !== "")
const REDIS_URL = "redis://127.0.0.1:6379"

interface Page {
  readonly fromLineNum: number
  readonly toLineNum: number
  readonly logContent: string
  readonly isEnd: boolean
}

interface Read {
  readonly page: Page
  readonly millis: number
  /** The reply's size in UTF-8 bytes: a reply with the whole rest of a large log is huge. */
  readonly bytes: number
}

const linesIn = (page: Page) => page.toLineNum >= page.fromLineNum ? page.toLineNum - page.fromLineNum + 1 : 0

export const run = async () => {
  for (const store of STORES) await runWith(store)
}

const runWith = async (store: string) => {
  console.log(
    `logs (${store} store): one run writes ${LINES} lines with Effect.log, then its log is read back with /log`
  )
  const appName = `bench-logs-${process.pid}-${Date.now()}`
  const env: Record<string, string> = {
    XXL_JOB_EXECUTOR_MAX_RUN_LOG_BYTES: String(MAX_RUN_LOG_BYTES),
    XXL_JOB_EXECUTOR_LOGSTORE: store,
    XXL_JOB_EXECUTOR_APPNAME: appName,
    XXL_JOB_EXECUTOR_REDIS_URL: REDIS_URL
  }
  const logId = 1
  let resolveResult: (item: { readonly code: number; readonly msg: string; readonly at: number }) => void = () => {}
  const result = new Promise<{ readonly code: number; readonly msg: string; readonly at: number }>((resolve) =>
    resolveResult = resolve
  )
  const executor = await startExecutor((item, at) => {
    if (item.logId === logId) resolveResult({ code: item.handleCode, msg: item.handleMsg ?? "", at })
  }, env)
  const agent = new Http.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    const { port } = executor.target
    const logDateTime = Date.now()
    const t0 = performance.now()
    const reply = await post(
      agent,
      port,
      "/run",
      triggerBody({ jobId: 1, logId, handler: "lines", params: String(LINES), logDateTime }),
      10_000
    )
    if (!accepted(reply)) {
      console.log(`  logs did not finish: the trigger was refused: ${reply}`)
      return
    }
    if (!await within(result, RUN_TIMEOUT_MS)) {
      console.log(`  logs did not finish: no result within ${seconds(RUN_TIMEOUT_MS)}`)
      return
    }
    const done = await result
    const took = done.at - t0

    // Each phase below has READ_TIMEOUT_MS of its own; a read past it fails, and the phase reports what it has.
    let until = deadline(READ_TIMEOUT_MS)
    const read = async (fromLineNum: number): Promise<Read> => {
      const body = JSON.stringify({ logDateTim: logDateTime, logId, fromLineNum })
      const start = performance.now()
      const text = await post(agent, port, "/log", body, Math.max(1, until.remaining()))
      const millis = performance.now() - start
      const parsed = JSON.parse(text) as { code: number; msg: string | null; content?: Page }
      if (parsed.code !== 200 || parsed.content === undefined) throw new Error(`/log answered ${text.slice(0, 200)}`)
      return { page: parsed.content, millis, bytes: Buffer.byteLength(text, "utf8") }
    }
    const failure = (error: unknown) => `did not finish: ${(error as Error).message}`

    // The positions in turn, round after round, so that no position profits from a read just before it of
    // the same page; the very first read is shown apart (it may open the file or build an index).
    const positions = [1, Math.max(1, Math.floor(LINES / 2)), Math.max(1, LINES - 100)]
    const reads = positions.map((): Array<Read> => [])
    let first: Read | undefined
    let firstAnsweredAt = 0
    let probeFailure: string | undefined
    try {
      for (let round = 0; round < PROBES && !until.expired(); round++) {
        for (const [i, position] of positions.entries()) {
          const r = await read(position)
          if (first === undefined) {
            first = r
            firstAnsweredAt = performance.now()
          }
          reads[i].push(r)
        }
      }
    } catch (error) {
      probeFailure = failure(error)
    }
    if (first !== undefined) {
      const stored = firstAnsweredAt - t0
      console.log(
        `  write ${LINES} lines      ${(LINES / stored * 1000).toFixed(0)} lines/s to the store (trigger → result ${
          seconds(took)
        }, → all stored ${seconds(stored)}; result ${done.code}: ${done.msg})`
      )
      console.log(`  first /log               ${ms(first.millis)} (from line 1, ${mib(first.bytes / 1024)} reply)`)
    }
    const cell = (i: number, show: (rs: Array<Read>) => string) =>
      `from line ${positions[i]}: ${reads[i].length === 0 ? "not read" : show(reads[i])}`
    const row = (show: (rs: Array<Read>) => string) => positions.map((_, i) => cell(i, show)).join("   ")
    const p50 = (rs: Array<Read>) => `${ms(percentiles(rs.map((r) => r.millis))[0]).trim()} (${rs.length}×)`
    const size = (rs: Array<Read>) => `${linesIn(rs[0].page)} lines, ${mib(rs[0].bytes / 1024)}`
    console.log(`  /log time p50            ${row(p50)}   (target: about equal)`)
    console.log(`  /log page                ${row(size)}`)
    if (probeFailure !== undefined) console.log(`  /log probes              ${probeFailure}`)

    // The admin's viewer: from line 1, each next read from toLineNum + 1, until a page with nothing new.
    until = deadline(READ_TIMEOUT_MS)
    let from = 1
    let pages = 0
    let lines = 0
    let bytes = 0
    let largest = 0
    const start = performance.now()
    let outcome: string | undefined
    try {
      while (outcome === undefined) {
        if (until.expired()) throw new Error(`out of time at line ${from}`)
        const { bytes: size, page } = await read(from)
        pages++
        bytes += size
        largest = Math.max(largest, size)
        if (page.logContent === "" || page.isEnd) outcome = "done"
        else if (page.toLineNum < from) throw new Error(`/log from line ${from} answered toLineNum ${page.toLineNum}`)
        else {
          lines += linesIn(page)
          from = page.toLineNum + 1
        }
      }
    } catch (error) {
      outcome = failure(error)
    }
    const pagingMs = performance.now() - start
    const rate = `${pages} pages, ${lines} lines, ${mib(bytes / 1024)} (largest reply ${mib(largest / 1024)}) in ${
      seconds(pagingMs)
    }: ${(pages / pagingMs * 1000).toFixed(1)} pages/s, ${(lines / pagingMs * 1000).toFixed(0)} lines/s`
    console.log(`  /log line 1 → end        ${outcome === "done" ? rate : `${outcome}; so far ${rate}`}`)
  } catch (error) {
    console.log(`  logs did not finish: ${(error as Error).message}`)
  } finally {
    agent.destroy()
    await executor.close()
    if (store === "redis") await forgetRedisLog(`xxl-job:${appName}:log:${logId}`)
  }
}

/** Deletes the bench's run log from Redis (a million lines would otherwise stay for the retention). */
const forgetRedisLog = async (key: string) => {
  const client = createClient({ url: REDIS_URL })
  client.on("error", () => undefined)
  try {
    await client.connect()
    await client.del(key)
  } catch (error) {
    console.log(`  could not delete ${key} from Redis: ${(error as Error).message}`)
  } finally {
    client.destroy()
  }
}
