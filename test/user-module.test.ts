/**
 * The command line's `--jobs` module as the installed `effect-xxl-job` loads it: under plain `node` (no tsx
 * preloaded), a `.ts` module loads through the tsx of the user's project, and without one the user is told
 * in one line what to do. The loader (src/internal/userModule.ts, Node's modules only) is compiled to
 * JavaScript into a temporary directory and run there by plain `node`, in a project of its own.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import ts from "typescript"

const root = Path.join(import.meta.dirname, "..")

/**
 * A project in a temporary directory: `src/jobs.ts` (TypeScript only tsx runs: a type annotation, and a
 * sibling `.ts` imported as `.js`), with tsx in its node_modules or not, and the loader compiled beside it.
 */
const project = (withTsx: boolean, type: "module" | "commonjs" = "module") =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-user-module-"))
      Fs.mkdirSync(Path.join(dir, "src"))
      Fs.writeFileSync(Path.join(dir, "package.json"), JSON.stringify({ type }))
      Fs.writeFileSync(Path.join(dir, "src", "greeting.ts"), "export const greeting: string = \"hello from .ts\"\n")
      Fs.writeFileSync(
        Path.join(dir, "src", "jobs.ts"),
        "import { greeting } from \"./greeting.js\"\nexport const jobs: { greeting: string } = { greeting }\n"
      )
      if (withTsx) {
        Fs.mkdirSync(Path.join(dir, "node_modules"))
        Fs.symlinkSync(Path.join(root, "node_modules", "tsx"), Path.join(dir, "node_modules", "tsx"), "dir")
      }
      // The loader and the module it imports, as ES modules whatever the project's type.
      for (const name of ["userModule", "tsx"]) {
        const source = Fs.readFileSync(Path.join(root, "src", "internal", `${name}.ts`), "utf8")
        const compiled = ts.transpileModule(source, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }
        })
        Fs.writeFileSync(Path.join(dir, `${name}.mjs`), compiled.outputText.replace("\"./tsx.js\"", "\"./tsx.mjs\""))
      }
      Fs.writeFileSync(
        Path.join(dir, "harness.mjs"),
        "import { importUserModule } from \"./userModule.mjs\"\n" +
          "const imported = await importUserModule(process.argv[2])\n" +
          "console.log(JSON.stringify(imported._tag === \"Loaded\" ? imported.exports : imported))\n"
      )
      return dir
    }),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

/** Plain `node` (nothing preloaded) on the harness, in the project: what it printed. */
const load = (dir: string, path: string) =>
  Effect.promise(() =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const env = { ...process.env }
      delete env.NODE_OPTIONS
      delete env.NODE_PATH
      const child = ChildProcess.spawn(process.execPath, ["harness.mjs", path], {
        cwd: dir,
        env,
        stdio: ["ignore", "pipe", "pipe"]
      })
      let out = ""
      child.stdout.on("data", (chunk) => out += chunk)
      child.stderr.on("data", (chunk) => out += chunk)
      child.on("exit", (code) => resolve({ code, out }))
    })
  )

describe("the --jobs module under plain node", () => {
  it.scopedLive("a .ts module loads through the project's tsx, with its .ts siblings", () =>
    Effect.gen(function*() {
      const dir = yield* project(true)
      const { code, out } = yield* load(dir, "./src/jobs.ts")
      assert.strictEqual(code, 0, out)
      assert.deepStrictEqual(JSON.parse(out), { jobs: { greeting: "hello from .ts" } })
    }), 20_000)

  it.scopedLive(
    "without tsx in the project: one line saying to install it or to point at the .js",
    () =>
      Effect.gen(function*() {
        const dir = yield* project(false)
        const { code, out } = yield* load(dir, "./src/jobs.ts")
        assert.strictEqual(code, 0, out)
        assert.deepStrictEqual(JSON.parse(out), {
          _tag: "NoTypeScriptLoader",
          message: "cannot load ./src/jobs.ts: Node runs TypeScript through tsx, which this project does not have: " +
            "install it (npm install --save-dev tsx), or point --jobs at the compiled .js"
        })
      }),
    20_000
  )

  it.scopedLive(
    "a .ts module of a CommonJS package: one line saying to make it an ES module package",
    () =>
      Effect.gen(function*() {
        const dir = yield* project(true, "commonjs")
        const { code, out } = yield* load(dir, "./src/jobs.ts")
        assert.strictEqual(code, 0, out)
        assert.deepStrictEqual(JSON.parse(out), {
          _tag: "NoTypeScriptLoader",
          message: "cannot load ./src/jobs.ts: its package is CommonJS, and the command loads ES modules: set " +
            "\"type\": \"module\" in its package.json (npm pkg set type=module), or name the file .mts"
        })
      }),
    20_000
  )

  it.scopedLive("a JavaScript module loads as it is", () =>
    Effect.gen(function*() {
      const dir = yield* project(false)
      Fs.writeFileSync(Path.join(dir, "jobs.js"), "export const jobs = 42\n")
      const { code, out } = yield* load(dir, "./jobs.js")
      assert.strictEqual(code, 0, out)
      assert.deepStrictEqual(JSON.parse(out), { jobs: 42 })
    }), 20_000)
})
