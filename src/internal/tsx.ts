/**
 * tsx, the TypeScript loader users run us under (`npm start`, `tsx main.ts`, `node --import tsx`), or have in
 * their project: whether this process runs under it, and where a project's copy of its ESM API is (for
 * places its loader does not reach by itself: worker threads, a plain-`node` command loading a `.ts`).
 *
 * Only Node's modules here: a test runs this file, with userModule.ts, under plain `node`.
 *
 * @internal
 */
import * as Fs from "node:fs"
import * as Module from "node:module"
import * as Path from "node:path"

/** Whether this process runs under tsx. @internal */
export const underTsx = process.execArgv.some((arg) => arg === "tsx" || /[\\/]tsx[\\/]/.test(arg))

/**
 * The file of tsx's ESM API (`tsx/esm/api`, its `import` condition) as a project in `directory` or above
 * installed it, if any. The package's `exports` map is read for it: `require.resolve` would give the
 * CommonJS build, which cannot register the ESM hooks.
 *
 * @internal
 */
export const tsxEsmApi = (directory: string): string | undefined => {
  try {
    const manifest = Module.createRequire(Path.join(directory, "noop.js")).resolve("tsx/package.json")
    const exports = JSON.parse(Fs.readFileSync(manifest, "utf8")).exports as Record<string, unknown>
    const api = (exports["./esm/api"] as { import?: { default?: unknown } } | undefined)?.import?.default
    return typeof api === "string" ? Path.join(Path.dirname(manifest), api) : undefined
  } catch {
    return undefined
  }
}
