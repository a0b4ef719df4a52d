/**
 * Where an isolated job's module is. One URL works from source and compiled when it is written as
 * TypeScript's own imports are (NodeNext): `new URL("./jobs/primes.js", import.meta.url)` names the compiled
 * file, and, run from source under tsx where that file does not exist, its TypeScript source beside it.
 *
 * @internal
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"

/** The module to load, or why there is none: one line, for the run's result. @internal */
export type Located = { readonly url: string } | { readonly problem: string }

/**
 * Finds the module named by `url` (a file URL) for the job `name`. `underTsx`: whether a TypeScript module
 * can be loaded (the executor runs under tsx).
 *
 * @internal
 */
export const locate = (url: string, name: string, underTsx: boolean): Located => {
  const path = Url.fileURLToPath(url)
  if (Fs.existsSync(path)) return { url }
  // .js → .ts, .mjs → .mts, .cjs → .cts
  const source = path.replace(/\.([mc]?)js$/, ".$1ts")
  if (source !== path && Fs.existsSync(source)) {
    return underTsx
      ? { url: Url.pathToFileURL(source).href }
      : {
        problem: `isolated job ${name}: ${path} does not exist, only its TypeScript source ${
          Path.basename(source)
        }: compile it (tsc), or start the executor under tsx`
      }
  }
  return { problem: `isolated job ${name}: its module ${path} does not exist` }
}
