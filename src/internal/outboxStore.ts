/**
 * Where the outbox keeps results until an admin has taken them. The file store is a journal under
 * `{logPath}/callback-outbox/`: a result is appended within milliseconds of being taken (so it survives this
 * process crashing; several results share one write), an fsync follows within a second (so it survives the
 * machine crashing), a delivery is appended after the admin answered 200, and on start the journal is read
 * back so results an earlier process left are sent first. A result the admin took before its record was
 * written (most, under a steady load) is never written at all. The memory store is for tests.
 *
 * Journal records, one per line: `A {"id":…,"at":…,"item":{…}}` adds a result, `D id,id,…` marks results
 * delivered. A line cut short by a crash is skipped. When most records are dead the journal is rewritten to
 * a temporary file, fsynced and renamed over the old one, so a crash at any point leaves one whole journal.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { promisify } from "node:util"
import { ExecutorConfig } from "../ExecutorConfig.js"
import { CallbackItem } from "../Wire.js"

/**
 * A result in the outbox: `id` orders results and names them in the journal; `at` is when it was taken.
 *
 * @internal
 */
export interface Entry {
  readonly id: number
  readonly at: number
  readonly item: CallbackItem
}

/** @internal */
export interface Service {
  /** Whether results survive a restart (the file store) or not (memory). */
  readonly durable: boolean
  /** The results an earlier process left, oldest first. Read once, at start. */
  readonly recovered: ReadonlyArray<Entry>
  /**
   * Stores results. Written behind, so it can be called anywhere: within milliseconds they survive this
   * process crashing, and within a second (fsync) the machine crashing.
   */
  readonly add: (entries: ReadonlyArray<Entry>) => void
  /**
   * Forgets results (delivered, or dropped by the bounds). Written behind, like `add`; a forget lost in a
   * crash means a harmless resend. A result forgotten before its add was written leaves no record.
   */
  readonly remove: (ids: ReadonlyArray<number>) => void
}

/** @internal */
export class OutboxStore extends Context.Tag("effect-xxl-job/internal/OutboxStore")<OutboxStore, Service>() {}

/**
 * A store that keeps nothing across restarts.
 *
 * @internal
 */
export const layerMemory: Layer.Layer<OutboxStore> = Layer.succeed(OutboxStore, {
  durable: false,
  recovered: [],
  add: () => undefined,
  remove: () => undefined
})

/**
 * `A {"id":…,"at":…,"item":{"logId":…,"logDateTim":…,"handleCode":…,"handleMsg":…}}`: the JSON
 * `JSON.stringify` makes of those fields (`handleMsg` left out when undefined), written out directly, without
 * the two objects a stringify needs per result.
 *
 * @internal
 */
export const addRecord = ({ at, id, item }: Entry) =>
  `A {"id":${id},"at":${at},"item":{"logId":${item.logId},"logDateTim":${item.logDateTim},"handleCode":${item.handleCode}${
    item.handleMsg === undefined ? "" : `,"handleMsg":${JSON.stringify(item.handleMsg)}`
  }}}\n`

const removeRecord = (ids: ReadonlyArray<number>) => `D ${ids.join(",")}\n`

/** Reads a journal's text back into the live entries, oldest first, and counts what it had to skip. */
export const replay = (
  text: string
): { readonly entries: Array<Entry>; readonly records: number; readonly skipped: number } => {
  const live = new Map<number, Entry>()
  let records = 0
  let skipped = 0
  for (const line of text.split("\n")) {
    if (line === "") continue
    records++
    try {
      if (line.startsWith("A ")) {
        const parsed = JSON.parse(line.slice(2)) as { id: number; at: number; item: Record<string, unknown> }
        if (!Number.isSafeInteger(parsed.id)) throw new Error("bad id")
        live.set(parsed.id, { id: parsed.id, at: parsed.at, item: new CallbackItem(parsed.item as never) })
      } else if (line.startsWith("D ")) {
        for (const id of line.slice(2).split(",")) live.delete(Number(id))
      } else {
        skipped++
      }
    } catch {
      skipped++
    }
  }
  return { entries: [...live.values()].sort((a, b) => a.id - b.id), records, skipped }
}

// The journal's appends use plain file descriptors: fs.promises' FileHandle costs several times more of the
// event loop per call, and the journal is written on every turn under load.
const openFd = promisify(NodeFs.open)
const fsyncFd = promisify(NodeFs.fsync)
const closeFd = promisify(NodeFs.close)
const writeAll = (fd: number, text: string) =>
  new Promise<void>((resolve, reject) => {
    const bytes = Buffer.from(text, "utf8")
    const from = (offset: number): void =>
      NodeFs.write(fd, bytes, offset, bytes.length - offset, null, (error, written) => {
        if (error) reject(error)
        else if (offset + written < bytes.length) from(offset + written)
        else resolve()
      })
    from(0)
  })

/** How long results gather before they are written together. */
const gatherMillis = 5

/** Journals with more records than this are compacted once most of them are dead. */
const compactAfterRecords = 20_000

/**
 * A journal store in `directory`.
 *
 * @internal
 */
export const makeFile = (directory: string): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const journalPath = Path.join(directory, "journal.log")
    const tempPath = Path.join(directory, "journal.log.tmp")
    const recovered = yield* Effect.promise(async () => {
      await Fs.mkdir(directory, { recursive: true })
      await Fs.rm(tempPath, { force: true })
      try {
        return replay(await Fs.readFile(journalPath, "utf8"))
      } catch (error) {
        if ((error as { code?: unknown }).code === "ENOENT") return { entries: [], records: 0, skipped: 0 }
        throw error
      }
    })
    if (recovered.skipped > 0) {
      yield* Effect.logWarning(`callback outbox: skipped ${recovered.skipped} unreadable journal record(s)`)
    }

    const live = new Map<number, Entry>(recovered.entries.map((entry) => [entry.id, entry]))
    let records = recovered.records
    let fd = yield* Effect.promise(() => openFd(journalPath, "a"))

    // Group commit: everything added or removed while a write is under way, or in the few milliseconds
    // before it, shares the next one (a write per turn of the event loop cost it 6% under load). Writes,
    // fsyncs and compactions take turns on `chain`.
    const gather = () => new Promise<void>((resolve) => setTimeout(resolve, gatherMillis))
    /**
     * Results added since the last write began. One removed before its write is simply dropped from here:
     * most results reach the admin within those milliseconds, and then neither record is ever written.
     */
    let unwritten = new Map<number, Entry>()
    /** Removed results whose add records were written (or are being written): the next write marks them. */
    let removed: Array<number> = []
    let chain: Promise<void> = Promise.resolve()
    let next: Promise<void> | undefined
    // An fsync per write would cost more than it buys: measured here, fsyncs back to back made creating the
    // run log files (in another thread) three times dearer. So one fsync a second, when something was written.
    let unsynced = false
    const syncNow = async () => {
      if (!unsynced) return
      unsynced = false
      await fsyncFd(fd)
    }
    const syncTimer = setInterval(() => {
      if (unsynced) chain = chain.then(syncNow).catch(() => undefined)
    }, 1000)
    syncTimer.unref()

    const compact = async () => {
      // The live results already written. Those not yet written are left to the next write, as ever: if the
      // compaction fails, they still reach the old journal, and a removal meanwhile still drops them unwritten.
      const entries = [...live.values()].filter((entry) => !unwritten.has(entry.id))
      const temp = await Fs.open(tempPath, "w")
      await temp.writeFile(entries.map(addRecord).join(""), "utf8")
      await temp.sync()
      await temp.close()
      await closeFd(fd)
      await Fs.rename(tempPath, journalPath)
      const dir = await Fs.open(directory, "r")
      await dir.sync().catch(() => undefined)
      await dir.close()
      fd = await openFd(journalPath, "a")
      // The new journal was fsynced whole; what the old one had unsynced is in it.
      unsynced = false
      records = entries.length
    }

    const writeOut = async () => {
      next = undefined
      const adds = unwritten
      const gone = removed
      unwritten = new Map()
      removed = []
      let text = ""
      for (const entry of adds.values()) text += addRecord(entry)
      if (gone.length > 0) text += removeRecord(gone)
      if (text !== "") {
        await writeAll(fd, text)
        unsynced = true
        records += adds.size + (gone.length > 0 ? 1 : 0)
      }
      if (records > compactAfterRecords && live.size * 5 < records) await compact()
    }

    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const reportFailure = (error: unknown) => {
      runFork(
        Effect.logError("callback outbox: journal write failed; results stay in memory and are still sent", error)
      )
    }

    /** Starts the next write (after the gather) when none is pending. A failed write is reported once. */
    const scheduleWrite = (): void => {
      if (next === undefined) {
        next = chain.then(gather).then(writeOut)
        chain = next.catch(reportFailure)
      }
    }

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        clearInterval(syncTimer)
        await chain
        await writeOut().catch(() => undefined)
        await syncNow().catch(() => undefined)
        await closeFd(fd)
      })
    )

    return {
      durable: true,
      recovered: recovered.entries,
      add: (entries) => {
        for (const entry of entries) {
          live.set(entry.id, entry)
          unwritten.set(entry.id, entry)
        }
        scheduleWrite()
      },
      remove: (ids) => {
        for (const id of ids) {
          live.delete(id)
          if (!unwritten.delete(id)) removed.push(id)
        }
        if (removed.length > 0) scheduleWrite()
      }
    } satisfies Service
  })

/**
 * The journal under `{logPath}/callback-outbox/`.
 *
 * @internal
 */
export const layerFile: Layer.Layer<OutboxStore, never, ExecutorConfig> = Layer.scoped(
  OutboxStore,
  Effect.flatMap(ExecutorConfig, (settings) => makeFile(Path.join(settings.logPath, "callback-outbox")))
)
