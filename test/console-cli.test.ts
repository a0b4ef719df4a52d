/**
 * The console's URL as the commands print it: `effect-xxl-job admin` and `npm start` (without an admin) each
 * print it, and it serves the page and the jobs declared.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Url from "node:url"
import { freePort } from "./helpers/net.js"

const root = Path.join(import.meta.dirname, "..")
/** tsx from this checkout, as a URL: the processes run in temp dirs of their own. */
const tsx = Url.pathToFileURL(Path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href

/** A temp dir for the test, removed after it. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-console-cli-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Starts `script` under tsx (killed with the scope) and gives the console URL it prints. */
const printedConsoleUrl = (script: string, args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn(process.execPath, ["--import", tsx, script, ...args], {
          cwd,
          env: { ...process.env, ...env },
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (child) => Effect.sync(() => child.kill("SIGKILL"))
    )
    return yield* Effect.async<string, Error>((resume) => {
      let out = ""
      const timer = setTimeout(() => resume(Effect.fail(new Error(`no console URL in: ${out}`))), 20_000)
      child.stdout.on("data", (chunk) => {
        out += chunk
        const match = /(http:\/\/127\.0\.0\.1:\d+\/xxl-job-admin\/console\/)\n/.exec(out)
        if (match !== null) {
          clearTimeout(timer)
          resume(Effect.succeed(match[1]))
        }
      })
      child.stderr.on("data", (chunk) => out += chunk)
      child.on("exit", () => {
        clearTimeout(timer)
        resume(Effect.fail(new Error(`exited before printing a console URL: ${out}`)))
      })
    })
  })

/** The page at `url` and the jobs its API lists. */
const served = (url: string) =>
  Effect.promise(async () => {
    const page = await fetch(url)
    const state = await (await fetch(`${url}api/state`)).json() as { jobs: Array<{ handler: string }> }
    return {
      type: page.headers.get("content-type"),
      title: /<title>(.*)<\/title>/.exec(await page.text())?.[1],
      handlers: state.jobs.map((job) => job.handler)
    }
  })

describe("the console's URL", () => {
  it.scopedLive(
    "effect-xxl-job admin prints it, and it serves the page and the jobs of the file",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const jobsFile = Path.join(dir, "jobs.json")
        Fs.writeFileSync(jobsFile, JSON.stringify([{ jobId: 1, handler: "report" }, { jobId: 2, handler: "sync" }]))
        const port = yield* freePort
        const url = yield* printedConsoleUrl(
          Path.join(root, "src", "bin.ts"),
          ["admin", "--jobs-file", jobsFile, "--port", String(port)],
          dir,
          {}
        )
        assert.strictEqual(url, `http://127.0.0.1:${port}/xxl-job-admin/console/`)
        assert.deepStrictEqual(yield* served(url), {
          type: "text/html",
          title: "Development admin · effect-xxl-job",
          handlers: ["report", "sync"]
        })
      }),
    30_000
  )

  it.scopedLive("npm start without an admin prints it, and it lists the demo jobs", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const url = yield* printedConsoleUrl(Path.join(root, "examples", "main.ts"), [], dir, {
        XXL_JOB_ADMIN_ADDRESSES: "",
        XXL_JOB_EXECUTOR_PORT: "0",
        XXL_JOB_EXECUTOR_LOGPATH: Path.join(dir, "logs")
      })
      const { handlers } = yield* served(url)
      assert.deepStrictEqual(handlers, ["echo", "logging", "sharding", "sleep", "fail", "download", "primes"])
    }), 30_000)
})
