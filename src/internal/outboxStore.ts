/**
 * Where the outbox keeps what it owes the admin: the triggers the executor accepted, until their results, and
 * the results, until an admin has taken them. The file store is a journal under `{logPath}/callback-outbox/`;
 * on start it is read back, so what an earlier process left is answered first. The memory store is for tests.
 *
 * Journal records, one per line:
 * - `T {"id":…,"at":…,"logId":…,"logDateTime":…}`: a trigger accepted. Written before `/run` answers (`admit`
 *   calls back once it is written to the OS), so a trigger the admin saw accepted survives this process
 *   crashing: the triggers of one turn of the event loop share one synchronous write at its end, a few
 *   microseconds into the page cache (an asynchronous one, through libuv's pool and back, held each answer a
 *   turn or two longer: at 9,000 triggers/s the load generator's connections ran out, measured).
 * - `S id,id,…`: their runs have started (so a restart can tell "may have partly run" from "not executed").
 * - `A {"id":…,"at":…,"item":{…}}`: a result, under its trigger's id. Written within a few milliseconds.
 * - `D id,id,…`: delivered (or dropped by the bounds): nothing more is owed for those ids.
 *
 * A record made moot before it is written is never written: a start whose result came first, a result the
 * admin took first (most, under a steady load). An fsync follows within a second of a write, so a machine
 * crash takes at most that second. A line cut short by a crash is skipped. When most records are dead the
 * journal is rewritten to a temporary file, fsynced and renamed over the old one, so a crash at any point
 * leaves one whole journal.
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
 * A result in the outbox: `id` orders results and names them in the journal (a trigger's result takes the
 * trigger's id); `at` is when it was taken.
 *
 * @internal
 */
export interface Entry {
  readonly id: number
  readonly at: number
  readonly item: CallbackItem
}

/**
 * A trigger the executor accepted: `at` is when; `logId` and `logDateTime` are what its result needs.
 *
 * @internal
 */
export interface Admission {
  readonly id: number
  readonly at: number
  readonly logId: number
  readonly logDateTime: number
}

/**
 * A trigger an earlier process accepted and left without a result; `started` if its run had begun.
 *
 * @internal
 */
export interface OpenTrigger extends Admission {
  readonly started: boolean
}

/** @internal */
export interface Service {
  /** Whether what it holds survives a restart (the file store) or not (memory). */
  readonly durable: boolean
  /** The results an earlier process left, oldest first. Read once, at start. */
  readonly recovered: ReadonlyArray<Entry>
  /** The triggers an earlier process accepted and left without a result, oldest first. Read once, at start. */
  readonly openTriggers: ReadonlyArray<OpenTrigger>
  /**
   * Records an accepted trigger; `recorded` is called once it survives this process crashing (written to
   * the OS; at once for the memory store), or once writing it has failed (then it is not durable).
   */
  readonly admit: (admission: Admission, recorded: () => void) => void
  /** Records that the trigger's run has started. Written behind; moot once its result is stored. */
  readonly started: (id: number) => void
  /**
   * Stores results. Written behind, so it can be called anywhere: within milliseconds they survive this
   * process crashing, and within a second (fsync) the machine crashing.
   */
  readonly add: (entries: ReadonlyArray<Entry>) => void
  /**
   * Forgets what is owed for these ids (delivered, or dropped by the bounds). Written behind, like `add`; a
   * forget lost in a crash means a harmless resend. Ids with nothing written yet leave no record.
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
  openTriggers: [],
  admit: (_, recorded) => recorded(),
  started: () => undefined,
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

/** `T {"id":…,"at":…,"logId":…,"logDateTime":…}`, written out directly as `addRecord` is. @internal */
export const triggerRecord = ({ at, id, logDateTime, logId }: Admission) =>
  `T {"id":${id},"at":${at},"logId":${logId},"logDateTime":${logDateTime}}\n`

const idsRecord = (kind: "S" | "D", ids: Iterable<number>) => `${kind} ${Array.from(ids).join(",")}\n`

/** What a journal's text holds for each id still owed: its trigger (while it has no result), its result. */
interface Owed {
  trigger: Admission | undefined
  started: boolean
  result: Entry | undefined
}

/**
 * Reads a journal's text back: the results still owed and the triggers left without one, oldest first, and
 * how many records it had and had to skip.
 *
 * @internal
 */
export const replay = (text: string): {
  readonly entries: Array<Entry>
  readonly openTriggers: Array<OpenTrigger>
  readonly records: number
  readonly skipped: number
} => {
  const owed = new Map<number, Owed>()
  const owedFor = (id: number) => {
    let o = owed.get(id)
    if (o === undefined) owed.set(id, o = { trigger: undefined, started: false, result: undefined })
    return o
  }
  let records = 0
  let skipped = 0
  for (const line of text.split("\n")) {
    if (line === "") continue
    records++
    try {
      const kind = line.slice(0, 2)
      if (kind === "A " || kind === "T ") {
        const parsed = JSON.parse(line.slice(2)) as Record<string, unknown>
        const id = parsed.id as number
        if (!Number.isSafeInteger(id)) throw new Error("bad id")
        if (kind === "A ") {
          owedFor(id).result = { id, at: parsed.at as number, item: new CallbackItem(parsed.item as never) }
        } else {
          const { at, logDateTime, logId } = parsed as { at: number; logId: number; logDateTime: number }
          owedFor(id).trigger = { id, at, logId, logDateTime }
        }
      } else if (kind === "S " || kind === "D ") {
        for (const id of line.slice(2).split(",").map(Number)) {
          if (kind === "D ") owed.delete(id)
          else if (owed.has(id)) owedFor(id).started = true
        }
      } else {
        skipped++
      }
    } catch {
      skipped++
    }
  }
  const entries: Array<Entry> = []
  const openTriggers: Array<OpenTrigger> = []
  for (const [, { result, started, trigger }] of [...owed].sort(([a], [b]) => a - b)) {
    if (result !== undefined) entries.push(result)
    else if (trigger !== undefined) openTriggers.push({ ...trigger, started })
  }
  return { entries, openTriggers, records, skipped }
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

/**
 * How long starts, results and deliveries gather before they are written together (a write per turn of the
 * event loop cost the event loop 6% under load). Accepted triggers do not wait: their answers wait for them.
 */
const gatherMillis = 5

/** Journals with more records than this are compacted once most of them are dead. */
const compactAfterRecords = 20_000

/** Starts, results and deliveries not yet written, each kind in the order it came. */
interface Unwritten {
  readonly starts: Set<number>
  readonly results: Map<number, Entry>
  readonly delivered: Array<number>
}

const noneUnwritten = (): Unwritten => ({ starts: new Set(), results: new Map(), delivered: [] })

/** The text of a batch of records: starts, then results and deliveries. */
const textOf = (batch: Unwritten): string => {
  let text = ""
  if (batch.starts.size > 0) text += idsRecord("S", batch.starts)
  for (const entry of batch.results.values()) text += addRecord(entry)
  if (batch.delivered.length > 0) text += idsRecord("D", batch.delivered)
  return text
}

const recordsIn = (batch: Unwritten) =>
  batch.results.size + (batch.starts.size > 0 ? 1 : 0) + (batch.delivered.length > 0 ? 1 : 0)

/** Writes all of `text` to `fd` now (the OS may take a write in parts). */
const writeAllNow = (fd: number, text: string): void => {
  const bytes = Buffer.from(text, "utf8")
  for (let offset = 0; offset < bytes.length;) offset += NodeFs.writeSync(fd, bytes, offset)
}

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
        if ((error as { code?: unknown }).code === "ENOENT") {
          return { entries: [], openTriggers: [], records: 0, skipped: 0 }
        }
        throw error
      }
    })
    if (recovered.skipped > 0) {
      yield* Effect.logWarning(`callback outbox: skipped ${recovered.skipped} unreadable journal record(s)`)
    }

    /** What is owed for each id, for compaction: its trigger while it has no result, its result. */
    const owed = new Map<number, Owed>([
      ...recovered.openTriggers.map((
        t
      ): [number, Owed] => [t.id, { trigger: t, started: t.started, result: undefined }]),
      ...recovered.entries.map((e): [number, Owed] => [e.id, { trigger: undefined, started: false, result: e }])
    ])
    /** Ids with a record written (or being written) and no delivery written yet: a delivery must say so. */
    const onDisk = new Set<number>(owed.keys())
    let records = recovered.records
    let fd = yield* Effect.promise(() => openFd(journalPath, "a"))
    let unwritten = noneUnwritten()
    /** Accepted triggers waiting for the end of this turn's write, and who waits for them. */
    let admissions = new Map<number, Admission>()
    let recorded: Array<() => void> = []
    let admissionsDue: ReturnType<typeof setImmediate> | undefined
    /** While the journal is swapped for a compacted one, accepted triggers wait for the new file. */
    let compacting = false

    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const reportFailure = (error: unknown) => {
      runFork(
        Effect.logError("callback outbox: journal write failed; results stay in memory and are still sent", error)
      )
    }

    // An fsync per write would cost more than it buys: measured here, fsyncs back to back made creating the
    // run log files (in another thread) three times dearer. So one fsync a second, when something was written.
    // Asynchronous writes, fsyncs and compactions take turns on `chain`.
    let chain: Promise<void> = Promise.resolve()
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

    /**
     * Writes the accepted triggers, synchronously, then lets their answers go (written, or failed: a trigger
     * is never held back because the disk is full; its result is still sent).
     */
    const writeAdmissions = () => {
      admissionsDue = undefined
      if (compacting) return
      const batch = admissions
      const waiting = recorded
      admissions = new Map()
      recorded = []
      let text = ""
      for (const admission of batch.values()) {
        text += triggerRecord(admission)
        onDisk.add(admission.id)
      }
      try {
        if (text !== "") {
          writeAllNow(fd, text)
          unsynced = true
          records += batch.size
        }
      } catch (error) {
        reportFailure(error)
      }
      for (const k of waiting) k()
    }

    const compact = async () => {
      // What is owed and already written. What is not yet written is left to the next write, as ever: if the
      // compaction fails, it still reaches the old journal, and a delivery meanwhile still drops it unwritten.
      let text = ""
      let count = 0
      for (const [id, { result, started, trigger }] of owed) {
        if (!onDisk.has(id)) continue
        if (result !== undefined && !unwritten.results.has(id)) text += addRecord(result)
        else if (trigger !== undefined) text += triggerRecord(trigger) + (started ? idsRecord("S", [id]) : "")
        else continue
        count++
      }
      compacting = true
      try {
        // The compacted journal is written through the descriptor that then goes on appending to it: renamed
        // over the old journal, it is the journal. If any step fails, the old journal and its descriptor are
        // left as they were, and writing goes on there.
        const next = await openFd(tempPath, "w")
        try {
          await writeAll(next, text)
          await fsyncFd(next)
          await Fs.rename(tempPath, journalPath)
        } catch (error) {
          await closeFd(next).catch(() => undefined)
          throw error
        }
        const old = fd
        fd = next
        // The triggers accepted meanwhile go to the new journal now: their answers wait for them, not for the
        // old descriptor's close and the directory's fsync.
        compacting = false
        writeAdmissions()
        await closeFd(old).catch(() => undefined)
        const dir = await Fs.open(directory, "r")
        await dir.sync().catch(() => undefined)
        await dir.close()
        // The new journal was fsynced whole; what the old one had unsynced is in it.
        unsynced = false
        records = count
      } finally {
        // After a failure, the triggers accepted meanwhile go to the old journal.
        if (compacting) {
          compacting = false
          writeAdmissions()
        }
      }
    }

    /** Writes the starts, results and deliveries not yet written. */
    const writeOut = async () => {
      const batch = unwritten
      unwritten = noneUnwritten()
      for (const id of batch.starts) onDisk.add(id)
      for (const id of batch.results.keys()) onDisk.add(id)
      for (const id of batch.delivered) onDisk.delete(id)
      const text = textOf(batch)
      if (text !== "") {
        await writeAll(fd, text)
        unsynced = true
        records += recordsIn(batch)
      }
      if (records > compactAfterRecords && owed.size * 5 < records) await compact()
    }

    /** Group commit: the next write starts once the one under way is done, after `gatherMillis` at least. */
    let writing = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const startWrite = () => {
      timer = undefined
      writing = true
      chain = chain.then(writeOut).catch(reportFailure).then(() => {
        writing = false
        if (recordsIn(unwritten) > 0) scheduleWrite()
      })
    }
    const scheduleWrite = (): void => {
      if (!writing && timer === undefined) timer = setTimeout(startWrite, gatherMillis)
    }

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        clearInterval(syncTimer)
        clearTimeout(timer)
        clearImmediate(admissionsDue)
        await chain
        writeAdmissions()
        await writeOut().catch(() => undefined)
        await syncNow().catch(() => undefined)
        await closeFd(fd)
      })
    )

    return {
      durable: true,
      recovered: recovered.entries,
      openTriggers: recovered.openTriggers,
      admit: (admission, whenRecorded) => {
        owed.set(admission.id, { trigger: admission, started: false, result: undefined })
        admissions.set(admission.id, admission)
        recorded.push(whenRecorded)
        admissionsDue ??= setImmediate(writeAdmissions)
      },
      started: (id) => {
        const o = owed.get(id)
        if (o === undefined || o.result !== undefined) return
        o.started = true
        unwritten.starts.add(id)
        scheduleWrite()
      },
      add: (entries) => {
        for (const entry of entries) {
          const o = owed.get(entry.id)
          if (o === undefined) owed.set(entry.id, { trigger: undefined, started: false, result: entry })
          else o.result = entry
          unwritten.results.set(entry.id, entry)
          // Its start no longer matters.
          unwritten.starts.delete(entry.id)
        }
        scheduleWrite()
      },
      remove: (ids) => {
        for (const id of ids) {
          owed.delete(id)
          unwritten.starts.delete(id)
          unwritten.results.delete(id)
          admissions.delete(id)
          if (onDisk.has(id)) unwritten.delivered.push(id)
        }
        if (unwritten.delivered.length > 0) scheduleWrite()
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
