/**
 * Appends text to files from a thread of its own. Run logs are one file per run (Java's layout), and creating
 * a file costs tens of microseconds of system time; done on the event loop it would stall every request, and
 * done through libuv's pool (fs.promises) it costs more still, in round trips and in threads contending for
 * the same directory. So appends are queued and handed over, when `flush` is called, as one batch to a worker
 * thread that writes them synchronously, in order, keeping recently used files open. The caller gathers
 * (the executor's run logs are written every few milliseconds, see `runLogs`): each hand-over costs the
 * event loop a message, and a batch carries one text per file.
 *
 * @internal
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Worker } from "node:worker_threads"

/** An append the thread could not make, with why. */
export type Failure = readonly [path: string, text: string, message: string]

/** @internal */
export interface Appender {
  /**
   * Queues `text` for the end of `path` (the folder is made when missing), until the next `flush`. Appends to a
   * file keep their order.
   */
  readonly append: (path: string, text: string) => void
  /**
   * Hands what is queued to the thread; resolves once everything appended so far has been written, or has
   * failed and been queued again (for the next flush).
   */
  readonly flush: () => Promise<void>
  /** Closes the files kept open (before folders are deleted, so no append goes to a deleted file). */
  readonly closeFiles: () => Promise<void>
  /** Writes what is queued, then stops the thread. */
  readonly close: () => Promise<void>
}

/**
 * The thread's code (CommonJS, evaluated by the worker: a file of its own would need a loader under tsx and
 * vitest). Messages in: `{ seq, paths, text, lengths }` (the paths joined by NUL, which no path holds, and
 * the texts joined, cut by their lengths) or `{ seq, closeFiles: true }`; out:
 * `{ seq, failed: [[path, text, message], …] }` once that message is done.
 */
const threadSource = `
const fs = require("node:fs")
const path = require("node:path")
const { parentPort } = require("node:worker_threads")

// Files kept open, least recently used first (Map order). A run's log is written at its end and again when
// its result has reached the admin, so keeping it open saves the second open.
const open = new Map()
const maxOpen = 1024
const idleMillis = 2000

const closeEntry = (file, entry) => {
  open.delete(file)
  try { fs.closeSync(entry.fd) } catch {}
}
const fdOf = (file, now) => {
  let entry = open.get(file)
  if (entry !== undefined) {
    open.delete(file)
  } else {
    let fd
    try {
      fd = fs.openSync(file, "a")
    } catch (error) {
      if (error.code !== "ENOENT") throw error
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fd = fs.openSync(file, "a")
    }
    entry = { fd, used: now }
    if (open.size >= maxOpen) {
      const [oldest, oldestEntry] = open.entries().next().value
      closeEntry(oldest, oldestEntry)
    }
  }
  entry.used = now
  open.set(file, entry)
  return entry.fd
}
const closeIdle = (now) => {
  for (const [file, entry] of open) {
    if (now - entry.used < idleMillis) break
    closeEntry(file, entry)
  }
}
setInterval(() => closeIdle(Date.now()), idleMillis).unref()

parentPort.on("message", (message) => {
  const failed = []
  if (message.closeFiles) {
    for (const [file, entry] of open) closeEntry(file, entry)
  } else {
    const now = Date.now()
    const files = message.paths.split("\\0")
    let at = 0
    for (let i = 0; i < files.length; i++) {
      const file = files[i]
      const text = message.text.slice(at, at += message.lengths[i])
      try {
        fs.writeFileSync(fdOf(file, now), text)
      } catch (error) {
        const entry = open.get(file)
        if (entry !== undefined) closeEntry(file, entry)
        failed.push([file, text, String(error && error.message || error)])
      }
    }
    closeIdle(now)
  }
  parentPort.postMessage({ seq: message.seq, failed })
})
`

/**
 * Starts the thread. `onFailure` hears of appends that failed; they are queued again and retried with the
 * next batch, so a full disk delays lines rather than losing them.
 *
 * @internal
 */
export const make = (onFailure: (failures: ReadonlyArray<Failure>) => void): Appender => {
  const worker = new Worker(threadSource, { eval: true })
  // The thread never keeps the process alive: `close` (a layer finalizer) writes what is left.
  worker.unref()
  /**
   * What waits for the next batch: the text appended to each file, in order, as one string (V8 joins
   * concatenations lazily), not an array per file.
   */
  let queued = new Map<string, string>()
  let seq = 0
  /** Batches handed to the thread and not yet done, by message number. */
  const inFlight = new Map<number, { readonly writes: Array<Write>; readonly done: () => void }>()
  let crashed = false

  /** Failed appends go back to the front of the queue and are tried again with the next batch. */
  const requeue = (failed: ReadonlyArray<Failure>) => {
    if (failed.length === 0) return
    const again = new Map(failed.map(([path, text]) => [path, text]))
    for (const [path, text] of queued) again.set(path, (again.get(path) ?? "") + text)
    queued = again
    onFailure(failed)
  }
  worker.on("message", (reply: { seq: number; failed: Array<Failure> }) => {
    requeue(reply.failed)
    inFlight.get(reply.seq)?.done()
    inFlight.delete(reply.seq)
  })
  worker.on("error", (error) => {
    // Should never happen; if it does, appends go on from this thread (slower, but nothing is lost).
    crashed = true
    onFailure([["(log writer thread)", "", `stopped (${error.message}); writing from the main thread instead`]])
    for (const batch of inFlight.values()) {
      requeue(writeHere(batch.writes))
      batch.done()
    }
    inFlight.clear()
  })

  /** Sends a message and resolves when the thread has done it (the thread takes messages in order). */
  const send = (message: { writes: Array<Write> } | { closeFiles: true }): Promise<void> => {
    const id = ++seq
    const writes = "writes" in message ? message.writes : []
    const done = new Promise<void>((resolve) => inFlight.set(id, { writes, done: resolve }))
    if ("writes" in message) {
      // Strings and a typed array: the thread gets them by copying memory, where an array of pairs would
      // go through the structured-clone walk (3% of the event loop under load).
      const lengths = new Int32Array(writes.length)
      writes.forEach(([, text], i) => lengths[i] = text.length)
      worker.postMessage({
        seq: id,
        paths: writes.map(([path]) => path).join("\0"),
        text: writes.map(([, text]) => text).join(""),
        lengths
      }, [lengths.buffer])
    } else {
      worker.postMessage({ ...message, seq: id })
    }
    return done
  }
  let lastSent: Promise<void> = Promise.resolve()
  const sendQueued = (): Promise<void> => {
    if (queued.size > 0) {
      const writes = Array.from(queued)
      queued = new Map()
      if (crashed) requeue(writeHere(writes))
      else lastSent = send({ writes })
    }
    return lastSent
  }

  return {
    append: (path, text) => {
      const before = queued.get(path)
      queued.set(path, before === undefined ? text : before + text)
    },
    flush: sendQueued,
    closeFiles: () => crashed ? Promise.resolve() : send({ closeFiles: true }),
    close: async () => {
      await sendQueued()
      await worker.terminate()
    }
  }
}

type Write = readonly [path: string, text: string]

/** The fallback when the thread is gone: the same appends, made synchronously here. */
const writeHere = (writes: ReadonlyArray<Write>): Array<Failure> => {
  const failed: Array<Failure> = []
  for (const [path, text] of writes) {
    try {
      Fs.mkdirSync(Path.dirname(path), { recursive: true })
      Fs.appendFileSync(path, text)
    } catch (error) {
      failed.push([path, text, String(error)])
    }
  }
  return failed
}
