/**
 * Appends text to files from a thread of its own. Run logs are one file per run (Java's layout), and creating
 * a file costs tens of microseconds of system time; done on the event loop it would stall every request, and
 * done through libuv's pool (fs.promises) it costs more still, in round trips and in threads contending for
 * the same directory. So a batch of appends (one text per file) goes to a worker thread that writes them
 * synchronously, in order, keeping recently used files open. The caller gathers (the executor's run logs are
 * written every few milliseconds, see `runLogs`): each batch costs the event loop a message. An append that
 * fails (a full disk) is answered with the part of its text not written, for the caller to hold and try
 * again: nothing is retried here.
 *
 * @internal
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Worker } from "node:worker_threads"

/** An append the thread could not make whole: its file, the part of its text not written, and why. */
export type Failure = readonly [path: string, unwritten: string, message: string]

/** @internal */
export interface Appender {
  /**
   * Appends each text to the end of its file (the folder is made when missing), in order, after the batches
   * sent before; resolves with the appends that failed, each with the part of its text not written.
   */
  readonly write: (writes: ReadonlyArray<Write>) => Promise<ReadonlyArray<Failure>>
  /** Closes the files kept open (before folders are deleted, so no append goes to a deleted file). */
  readonly closeFiles: () => Promise<void>
  /** Waits for the batches sent, then stops the thread. */
  readonly close: () => Promise<void>
}

/** One append: a file and the text for its end. @internal */
export type Write = readonly [path: string, text: string]

/**
 * The thread's code (CommonJS, evaluated by the worker: a file of its own would need a loader under tsx and
 * vitest). Messages in: `{ seq, paths, text, lengths }` (the paths joined by NUL, which no path holds, and
 * the texts joined, cut by their lengths) or `{ seq, closeFiles: true }`; out:
 * `{ seq, failed: [[path, unwritten, message], …] }` once that message is done.
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
      const bytes = Buffer.from(message.text.slice(at, at += message.lengths[i]), "utf8")
      // Byte by byte accounted: a full disk takes part of a write, and only the rest is sent back.
      let written = 0
      try {
        const fd = fdOf(file, now)
        while (written < bytes.length) written += fs.writeSync(fd, bytes, written)
      } catch (error) {
        const entry = open.get(file)
        if (entry !== undefined) closeEntry(file, entry)
        failed.push([file, bytes.subarray(written).toString("utf8"), String(error && error.message || error)])
      }
    }
    closeIdle(now)
  }
  parentPort.postMessage({ seq: message.seq, failed })
})
`

/**
 * Starts the thread.
 *
 * @internal
 */
export const make = (): Appender => {
  const worker = new Worker(threadSource, { eval: true })
  // The thread never keeps the process alive: `close` (a layer finalizer) waits for what was sent.
  worker.unref()
  let seq = 0
  /** Batches handed to the thread and not yet done, by message number. */
  const inFlight = new Map<
    number,
    { readonly writes: ReadonlyArray<Write>; readonly done: (failed: ReadonlyArray<Failure>) => void }
  >()
  let crashed = false
  let last: Promise<unknown> = Promise.resolve()

  worker.on("message", (reply: { seq: number; failed: Array<Failure> }) => {
    inFlight.get(reply.seq)?.done(reply.failed)
    inFlight.delete(reply.seq)
  })
  worker.on("error", (error) => {
    // Should never happen; if it does, appends go on from this thread (slower, but nothing is lost).
    crashed = true
    for (const batch of inFlight.values()) {
      batch.done([
        ...writeHere(batch.writes),
        ["(log writer thread)", "", `stopped (${error.message}); writing from the main thread instead`]
      ])
    }
    inFlight.clear()
  })

  /** Sends a message and resolves when the thread has done it (the thread takes messages in order). */
  const send = (message: { writes: ReadonlyArray<Write> } | { closeFiles: true }) => {
    const id = ++seq
    const writes = "writes" in message ? message.writes : []
    const done = new Promise<ReadonlyArray<Failure>>((resolve) => inFlight.set(id, { writes, done: resolve }))
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
    last = done
    return done
  }

  return {
    write: (writes) => crashed ? Promise.resolve(writeHere(writes)) : send({ writes }),
    closeFiles: () => crashed ? Promise.resolve() : send({ closeFiles: true }).then(() => undefined),
    close: async () => {
      await last
      await worker.terminate()
    }
  }
}

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
