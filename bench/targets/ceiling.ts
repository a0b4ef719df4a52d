/**
 * The ceiling: a bare node:http server that does the least an executor must — parse the `/run` body, answer,
 * and send an echo result to the admin in batches — with nothing else (no lanes, no logs, no journal).
 * Prints `READY <port>`.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

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
    pending.push({ logId: trigger.logId, logDateTim: trigger.logDateTime, handleCode: 200, handleMsg: "ok" })
    setImmediate(flush)
  })
})
server.listen(0, "127.0.0.1", () => console.log(`READY ${(server.address() as AddressInfo).port}`))
process.on("SIGTERM", () => server.close(() => process.exit(0)))
