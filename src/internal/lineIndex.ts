/**
 * Pages of a growing log file by line number, without reading it from the start each time. Each file read
 * gets an index of where every 1024th line starts; a read first extends the index over the bytes appended
 * since the last one, then starts from the nearest indexed line. So a page costs the same wherever it is in
 * the file, and the admin polling a running job's log reads only what is new.
 *
 * Only whole lines (ending in a newline) are counted: a line being written is left for the next read.
 *
 * @internal
 */
import type { FileHandle } from "node:fs/promises"
import * as Fs from "node:fs/promises"

/** Every how many lines the index records an offset. */
const stride = 1024
// Large reads: indexing a big log is one pass at disk (or page cache) speed, not thousands of round trips.
const chunkBytes = 1024 * 1024
const newline = 0x0a

interface Index {
  readonly inode: number
  /** Bytes indexed: the end of the last whole line seen. */
  size: number
  /** Whole lines in those bytes. */
  lines: number
  /** `starts[k]` is the offset of line `k * stride + 1`. */
  readonly starts: Array<number>
}

/** A page: lines `from..to` (1-based) as text, each newline-terminated; `lines` is the file's line count. */
export interface Page {
  readonly from: number
  readonly to: number
  readonly text: string
  readonly lines: number
}

/** Calls `onLine(end)` for each newline in `[from, to)` (`end` is the offset after it) until it returns false. */
const scanLines = async (
  handle: FileHandle,
  from: number,
  to: number,
  onLine: (end: number) => boolean
): Promise<void> => {
  const buffer = Buffer.allocUnsafe(chunkBytes)
  for (let offset = from; offset < to;) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(chunkBytes, to - offset), offset)
    if (bytesRead === 0) return
    for (let at = buffer.indexOf(newline, 0); at !== -1 && at < bytesRead; at = buffer.indexOf(newline, at + 1)) {
      if (!onLine(offset + at + 1)) return
    }
    offset += bytesRead
  }
}

/**
 * Line indexes of the files read recently, kept for the `capacity` most recent.
 *
 * @internal
 */
export const makeIndexes = (capacity = 128) => {
  const indexes = new Map<string, Index>()

  const remember = (path: string, index: Index) => {
    indexes.delete(path)
    indexes.set(path, index)
    if (indexes.size > capacity) indexes.delete(indexes.keys().next().value!)
  }

  /** Brings the file's index up to its current end (a replaced or shortened file is indexed afresh). */
  const indexOf = async (path: string, handle: FileHandle): Promise<Index> => {
    const stat = await handle.stat()
    let index = indexes.get(path)
    if (index === undefined || index.inode !== stat.ino || stat.size < index.size) {
      index = { inode: stat.ino, size: 0, lines: 0, starts: [0] }
    }
    const grown = index
    await scanLines(handle, grown.size, stat.size, (end) => {
      grown.lines++
      grown.size = end
      if (grown.lines % stride === 0) grown.starts.push(end)
      return true
    })
    remember(path, grown)
    return grown
  }

  /**
   * Reads lines from `fromLineNum` (1-based; 0 or less means 1) up to about `maxBytes` (at least one line),
   * or undefined when the file does not exist.
   */
  const read = async (path: string, fromLineNum: number, maxBytes: number): Promise<Page | undefined> => {
    let handle: FileHandle
    try {
      handle = await Fs.open(path, "r")
    } catch (error) {
      if ((error as { code?: unknown }).code === "ENOENT") return undefined
      throw error
    }
    try {
      const index = await indexOf(path, handle)
      const first = Math.max(1, fromLineNum)
      if (first > index.lines) return { from: first, to: index.lines, text: "", lines: index.lines }
      // From the nearest indexed line at or before `first`, skip to it, then take lines up to the budget.
      const block = Math.floor((first - 1) / stride)
      let line = block * stride
      let start = index.starts[block]
      let end = start
      await scanLines(handle, start, index.size, (lineEnd) => {
        line++
        if (line < first) {
          start = lineEnd
          end = lineEnd
          return true
        }
        end = lineEnd
        return end - start < maxBytes
      })
      const bytes = Buffer.allocUnsafe(end - start)
      let filled = 0
      while (filled < bytes.length) {
        const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, start + filled)
        if (bytesRead === 0) break
        filled += bytesRead
      }
      return { from: first, to: line, text: bytes.subarray(0, filled).toString("utf8"), lines: index.lines }
    } finally {
      await handle.close()
    }
  }

  return { read }
}
