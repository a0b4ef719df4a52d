/** Temporary directories for tests, removed after the test file's tests. */
import { afterAll } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const made: Array<string> = []
afterAll(() => {
  for (const dir of made.splice(0)) Fs.rmSync(dir, { recursive: true, force: true })
})

/** A new directory under the OS's temporary directory, named `{prefix}XXXXXX`. */
export const tempDir = (prefix: string): string => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))
  made.push(dir)
  return dir
}
