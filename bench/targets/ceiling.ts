/**
 * The ceiling: a bare node:http server that does the least an executor must — parse the `/run` body, answer,
 * and send an echo result to the admin in batches — with nothing else (no lanes, no logs, no journal).
 * Prints `READY <port>`.
 *
 * With `CEILING_LOG_FILES=1` it also writes each run's log file as Java lays them out (two lines in
 * `{logPath}/{yyyy-MM-dd}/{logId}.log`, through the executor's own file-writing thread): the least a
 * file-per-run executor can do, to tell the disk's share of the gap from the executor's.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Path from "node:path"
import type * as AppendThreadModule from "../../src/internal/appendThread.js"
import type * as LogLinesModule from "../../src/internal/logLines.js"
import { fromPackage } from "./fromPackage.js"

const AppendThread = await import(
  fromPackage("internal/appendThread")
) as typeof AppendThreadModule
const { dayOf } = await import(fromPackage("internal/logLines")) as typeof LogLinesModule

const logPath = process.env.CEILING_LOG_FILES === "1" ? process.env.XXL_JOB_EXECUTOR_LOGPATH : undefined
const appender = logPath === undefined ? undefined : AppendThread.make()
// Appends gather for 25 ms before they go to the thread, as the executor's run logs do.
let gathered: Array<AppendThreadModule.Write> = []
const append = (file: string, text: string) => {
  if (gathered.push([file, text]) > 1) return
  setTimeout(() => {
    const writes = gathered
    gathered = []
    void appender!.write(writes)
  }, 25)
}
const logLine = (message: string) => `${new Date().toISOString()} [ceiling]-[INFO]-[main] ${message}\n`

const admin = process.env.XXL_JOB_ADMIN_ADDRESSES ?? ""
const agent = new Http.Agent({ keepAlive: true, maxSockets: 4 })
let pending: Array<{ logId: number; logDateTim: number; handleCode: number; handleMsg: string }> = []
let sending = false

const flush = () => {
  if (sending || pending.length === 0) return
  sending = true
  const batch = pending.splice(0, 50)
  const url = new URL(`${admin}/api/callback`)
  const req = Http.request(
    {
      agent,
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: "POST",
      headers: { "content-type": "application/json" }
    },
    (res) => {
      res.resume()
      res.on("end", () => {
        sending = false
        flush()
      })
    }
  )
  req.on("error", () => {
    pending = batch.concat(pending)
    sending = false
    setTimeout(flush, 100)
  })
  req.end(JSON.stringify(batch))
}

const server = Http.createServer((req, res) => {
  let body = ""
  req.setEncoding("utf8")
  req.on("data", (chunk) => body += chunk)
  req.on("end", () => {
    const trigger = JSON.parse(body) as { logId: number; logDateTime: number }
    res.writeHead(200, { "content-type": "application/json;charset=UTF-8" })
    res.end("{\"code\":200,\"msg\":\"Success\"}")
    if (appender !== undefined) {
      const file = Path.join(logPath!, dayOf(trigger.logDateTime), `${trigger.logId}.log`)
      append(file, logLine("----------- xxl-job job execute start -----------") + logLine("result ok"))
    }
    pending.push({ logId: trigger.logId, logDateTim: trigger.logDateTime, handleCode: 200, handleMsg: "ok" })
    setImmediate(flush)
  })
})
server.listen(0, "127.0.0.1", () => console.log(`READY ${(server.address() as AddressInfo).port}`))
process.on("SIGTERM", () => server.close(() => process.exit(0)))
