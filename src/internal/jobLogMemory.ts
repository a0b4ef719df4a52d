/**
 * The memory run log store: for tests, and for users' tests with the mock admin.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { LogKey, Store } from "../JobLog.js"
import { dayOf, notFound, page, splitLines } from "./logLines.js"

const keyOf = (key: LogKey) => `${dayOf(key.logDateTime)}/${key.logId}`

/** A store holding each run's lines in an array. */
export const make = (): Store => {
  const logs = new Map<string, Array<string>>()
  return {
    write: (batch) =>
      Effect.sync(() => {
        for (const { key, text } of batch) {
          const id = keyOf(key)
          const lines = logs.get(id)
          if (lines === undefined) logs.set(id, splitLines(text))
          else for (const line of splitLines(text)) lines.push(line)
        }
      }),
    read: (key, fromLineNum) =>
      Effect.sync(() => {
        const lines = logs.get(keyOf(key))
        return lines === undefined ? notFound(fromLineNum) : page(lines, fromLineNum)
      })
  }
}
