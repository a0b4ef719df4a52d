/**
 * The run log store's error (`JobLog.JobLogError`), in a module of its own so that the stores can fail with it
 * without importing `JobLog`, which imports them.
 *
 * @internal
 */
import * as Data from "effect/Data"
import type { Lines } from "../JobLog.js"

/** See `JobLog.JobLogError`. */
export class JobLogError extends Data.TaggedError("JobLogError")<{
  readonly operation: "write" | "read"
  readonly cause: unknown
  readonly unwritten?: ReadonlyArray<Lines> | undefined
}> {
  override get message(): string {
    return `run log ${this.operation} failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}
