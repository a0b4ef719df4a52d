// The examples in the public modules' JSDoc and in the README, type-checked as a user's code: every
// ```ts block becomes a module of its own that imports the package by its public names ("effect-xxl-job",
// "effect-xxl-job/testing", "effect-xxl-job/dev", mapped to the sources). A block whose first line names its
// file (`// src/jobs.ts`) is written there, in a project of its document's own, so that the blocks of one
// document can import each other as the reader's files would. An example that no longer compiles fails the
// type check, with its module or document and line.
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.join(import.meta.dirname, "..")
const src = Path.join(root, "src")
// Inside the checkout, so that the examples resolve its node_modules.
const out = Path.join(root, "node_modules", ".cache", "doc-examples")

/** The public modules: the entry points and the namespaces they export. */
const publicModules = () => {
  const modules = new Set()
  for (const entry of ["index.ts", "testing.ts", "dev.ts"]) {
    modules.add(entry)
    const text = Fs.readFileSync(Path.join(src, entry), "utf8")
    for (const [, name] of text.matchAll(/export \* as \w+ from "\.\/(\w+)\.js"/g)) modules.add(`${name}.ts`)
  }
  return [...modules].sort()
}

/** The ```ts blocks of a module's JSDoc, with the line each starts on. */
const examplesOf = (file) => {
  const lines = Fs.readFileSync(Path.join(src, file), "utf8").split("\n")
  const examples = []
  let current
  lines.forEach((line, index) => {
    const text = line.replace(/^\s*\* ?/, "")
    if (current === undefined && /^\s*\*\s*```ts\s*$/.test(line)) current = { line: index + 2, code: [] }
    else if (current !== undefined && /^\s*\*\s*```\s*$/.test(line)) {
      examples.push(current)
      current = undefined
    } else if (current !== undefined) current.code.push(text)
  })
  return examples
}

Fs.rmSync(out, { recursive: true, force: true })
Fs.mkdirSync(out, { recursive: true })
Fs.writeFileSync(Path.join(out, "package.json"), JSON.stringify({ type: "module" }))
const files = []
for (const module of publicModules()) {
  for (const { code, line } of examplesOf(module)) {
    const name = `${module.replace(/\.ts$/, "")}-line-${line}.ts`
    // `export {}` keeps an example without imports a module of its own.
    Fs.writeFileSync(Path.join(out, name), `${code.join("\n")}\nexport {}\n`)
    files.push(name)
  }
}
/** The ```ts blocks of a Markdown document, with the line each starts on. */
const blocksOf = (document) => {
  const examples = []
  let current
  Fs.readFileSync(Path.join(root, document), "utf8").split("\n").forEach((line, index) => {
    if (current === undefined && /^```ts\s*$/.test(line)) current = { line: index + 2, code: [] }
    else if (current !== undefined && /^```\s*$/.test(line)) {
      examples.push(current)
      current = undefined
    } else if (current !== undefined) current.code.push(line)
  })
  return examples
}

// The README's quick start is complete code a reader copies; the guides' blocks are mostly fragments.
const documents = ["README.md"]
for (const document of documents) {
  const project = document.replace(/\.md$/, "").replace(/\//g, "-")
  for (const { code, line } of blocksOf(document)) {
    const named = /^\/\/ ((?:[\w.-]+\/)*[\w.-]+\.ts)\b/.exec(code[0] ?? "")
    const name = Path.join(project, named ? named[1] : `line-${line}.ts`)
    Fs.mkdirSync(Path.dirname(Path.join(out, name)), { recursive: true })
    Fs.writeFileSync(Path.join(out, name), `${code.join("\n")}\nexport {}\n`)
    files.push(name)
  }
}

const relative = (file) => Path.relative(out, Path.join(src, file)).split(Path.sep).join("/")
Fs.writeFileSync(
  Path.join(out, "tsconfig.json"),
  JSON.stringify({
    extends: Path.relative(out, Path.join(root, "tsconfig.base.json")).split(Path.sep).join("/"),
    compilerOptions: {
      noEmit: true,
      noUnusedLocals: false,
      paths: {
        "effect-xxl-job": [relative("index.ts")],
        "effect-xxl-job/testing": [relative("testing.ts")],
        "effect-xxl-job/dev": [relative("dev.ts")]
      }
    },
    files
  })
)
const tsc = Path.join(root, "node_modules", "typescript", "bin", "tsc")
const checked = ChildProcess.spawnSync(process.execPath, [tsc, "-p", Path.join(out, "tsconfig.json")], {
  encoding: "utf8"
})
if (checked.status !== 0) {
  console.error(`The examples do not compile (each file is named after its module or document, and line or file):`)
  console.error(checked.stdout + checked.stderr)
  process.exit(1)
}
console.log(`check-examples: ${files.length} examples (the public modules' JSDoc and the README) compile`)
Fs.rmSync(out, { recursive: true, force: true })
