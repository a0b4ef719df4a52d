/**
 * Importing a module the user points the command line at (`--jobs`): compiled JavaScript as it is, and a
 * TypeScript source through the tsx of the user's own project, so the installed `effect-xxl-job` (plain
 * `node`) runs `--jobs ./src/jobs.ts` as it runs `--jobs ./dist/jobs.js`. Under tsx already (`npm run cli`,
 * `node --import tsx`), the source imports as it is.
 *
 * Only Node's modules here (and tsx.ts): a test runs this file under plain `node`.
 *
 * @internal
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"
import { tsxEsmApi, underTsx } from "./tsx.js"

/**
 * What importing gave: the module's exports, or, for a TypeScript module Node cannot run by itself with no
 * tsx installed where the module or the working directory would find one, what to do (one line).
 *
 * @internal
 */
export type Imported =
  | { readonly _tag: "Loaded"; readonly exports: Record<string, unknown> }
  | { readonly _tag: "NoTypeScriptLoader"; readonly message: string }

const typeScript = /\.[cm]?tsx?$/i

/** Node's codes for a TypeScript file it cannot run by itself (before 22.6, or syntax it cannot strip). */
const needsLoader = new Set([
  "ERR_UNKNOWN_FILE_EXTENSION",
  "ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX",
  "ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING"
])

/** Whether the nearest package.json above `file` says `"type": "module"`. */
const inModulePackage = (file: string): boolean => {
  for (let folder = Path.dirname(file);; folder = Path.dirname(folder)) {
    const manifest = Path.join(folder, "package.json")
    if (Fs.existsSync(manifest)) {
      try {
        return (JSON.parse(Fs.readFileSync(manifest, "utf8")) as { type?: unknown }).type === "module"
      } catch {
        return false
      }
    }
    if (Path.dirname(folder) === folder) return false
  }
}

/** Whether tsx's hooks are registered by this process already, by us. */
let registered = false

/**
 * Imports `path` (as the user typed it: the messages show it so). A TypeScript module is imported with the
 * hooks of the tsx found from the module's directory, else from the working directory, registered first
 * (so that its `./x.js` imports of `.ts` siblings resolve, which Node's own type stripping, from 22.18 on,
 * would not do); with no tsx, a TypeScript module Node cannot run by itself is the one line that says what to
 * do. Any other failure (the module's own error, a module it imports that is missing) rejects as Node's error.
 *
 * @internal
 */
export const importUserModule = async (path: string): Promise<Imported> => {
  const file = Path.resolve(path)
  const url = Url.pathToFileURL(file).href
  if (typeScript.test(file) && !underTsx && !registered) {
    const api = tsxEsmApi(Path.dirname(file)) ?? tsxEsmApi(process.cwd())
    if (api !== undefined) {
      const tsx = await import(Url.pathToFileURL(api).href) as { register: () => unknown }
      tsx.register()
      registered = true
    }
  }
  // tsx's hooks load a `.ts` of a CommonJS package as CommonJS, which this ES module import cannot take: said
  // before trying, so that the module's own errors are never mistaken for this.
  if (registered && /\.tsx?$/i.test(file) && !inModulePackage(file)) {
    return {
      _tag: "NoTypeScriptLoader",
      message: `cannot load ${path}: its package is CommonJS, and the command loads ES modules: set "type": ` +
        `"module" in its package.json (npm pkg set type=module), or name the file .mts`
    }
  }
  try {
    return { _tag: "Loaded", exports: await import(url) }
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (typeScript.test(file) && !registered && typeof code === "string" && needsLoader.has(code)) {
      return {
        _tag: "NoTypeScriptLoader",
        message: `cannot load ${path}: Node runs TypeScript through tsx, which this project does not have: ` +
          "install it (npm install --save-dev tsx), or point --jobs at the compiled .js"
      }
    }
    throw error
  }
}
