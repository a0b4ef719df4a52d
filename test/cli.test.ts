/**
 * The `effect-xxl-job` command line as a user types it (`src/bin.ts` under tsx, a process per command):
 * `run` one job once, `check` a connection to an admin with its diagnosis, and `admin` driving an executor.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Https from "node:https"
import type * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Executor, ExecutorConfig, Job } from "../src/index.js"
import * as Cli from "../src/internal/cli.js"
import { MockAdmin } from "../src/testing.js"
import { freePort } from "./helpers/net.js"
import { selfSigned, tlsTitle } from "./helpers/tls.js"

const bin = Path.join(import.meta.dirname, "..", "src", "bin.ts")
const jobsModule = Path.join(import.meta.dirname, "fixtures", "cli-jobs.ts")

/** Runs the command line to its end: its output and exit code. */
const cli = (...args: Array<string>) =>
  Effect.promise(() =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", bin, ...args], {
        stdio: ["ignore", "pipe", "pipe"]
      })
      let out = ""
      child.stdout.on("data", (chunk) => out += chunk)
      child.stderr.on("data", (chunk) => out += chunk)
      child.on("exit", (code) => resolve({ code, out }))
    })
  )

describe("effect-xxl-job run", () => {
  it.live(
    "runs a job once with params, shard and timeout, and prints its log and result (exit 0)",
    () =>
      Effect.gen(function*() {
        const { code, out } = yield* cli(
          "run",
          "shards",
          "--jobs",
          jobsModule,
          "--params",
          "a b",
          "--shard-index",
          "2",
          "--shard-total",
          "5",
          "--timeout",
          "9"
        )
        assert.strictEqual(code, 0, out)
        // Java's `<br>` markers in the log, shown as line breaks.
        assert.include(out, "\n│ ----------- xxl-job job execute start -----------\n│ ----------- Param:a b\n")
        assert.notInclude(out, "<br>")
        assert.include(out, "result: 200 a b|2|5|timeout 9")
      }),
    30_000
  )

  it.live("a failing job exits 1; a job's services come from the module's layer", () =>
    Effect.gen(function*() {
      const failed = yield* cli("run", "fails", "--jobs", jobsModule)
      assert.strictEqual(failed.code, 1)
      assert.include(failed.out, "result: 500 it failed")
      const greets = yield* cli("run", "greets", "--jobs", jobsModule)
      assert.strictEqual(greets.code, 0, greets.out)
      assert.include(greets.out, "greeting with hello from the layer")
    }), 30_000)

  it.live("a missing --jobs file or option: @effect/cli's message once, no dump, exit 1", () =>
    Effect.gen(function*() {
      const [missingFile, missingOption] = yield* Effect.all([
        cli("run", "shards", "--jobs", "./missing.ts"),
        cli("run", "shards")
      ], { concurrency: "unbounded" })
      assert.strictEqual(missingFile.code, 1)
      assert.strictEqual(missingFile.out.trim(), "Path './missing.ts' must exist")
      assert.strictEqual(missingOption.code, 1)
      assert.strictEqual(missingOption.out.trim(), "Expected to find option: '--jobs'")
    }), 30_000)

  it.live("an unknown handler is refused with the names there are", () =>
    Effect.gen(function*() {
      const { code, out } = yield* cli("run", "nope", "--jobs", jobsModule)
      assert.notStrictEqual(code, 0)
      assert.include(out, "no job named \"nope\"")
      assert.include(out, "shards, fails, greets")
    }), 30_000)
})

describe("effect-xxl-job check", () => {
  it.scopedLive(
    "a registry round trip; wrong token, wrong context path and no admin each get their diagnosis",
    () =>
      Effect.gen(function*() {
        const admin = yield* MockAdmin.serve({ accessToken: "sekret" })
        const ok = yield* cli("check", "--admin", admin.url!, "--app", "demo", "--token", "sekret")
        assert.strictEqual(ok.code, 0, ok.out)
        assert.include(ok.out, "✔ registry")
        assert.include(ok.out, "✔ registryRemove")
        assert.deepStrictEqual(
          (yield* admin.registrations).map((r) => r.kind),
          ["registry", "registryRemove"]
        )

        const token = yield* cli("check", "--admin", admin.url!, "--app", "demo", "--token", "wrong")
        assert.strictEqual(token.code, 1)
        assert.include(token.out, "The access token is wrong.")
        assert.include(token.out, "must equal xxl.job.accessToken")

        const path = yield* cli(
          "check",
          "--admin",
          admin.url!.replace("/xxl-job-admin", ""),
          "--app",
          "demo",
          "--token",
          "sekret"
        )
        assert.strictEqual(path.code, 1)
        assert.include(path.out, "with its context path")

        // A login page in front of the admin (an SSO proxy, say) answers HTML to everything.
        const behindLogin = yield* MockAdmin.serve({ faults: MockAdmin.Fault.LoginPage() })
        const html = yield* cli("check", "--admin", behindLogin.url!, "--app", "demo")
        assert.strictEqual(html.code, 1)
        assert.include(html.out, `${behindLogin.url}/api/registry answered HTML`)
        assert.include(html.out, "not a login page")
        assert.deepStrictEqual((yield* behindLogin.requests).map((request) => request.endpoint), ["registry"])

        // Nothing listens there.
        const none = yield* cli("check", "--admin", `http://127.0.0.1:${yield* freePort}`, "--app", "x")
        assert.strictEqual(none.code, 1)
        assert.include(none.out, "is the admin running")
      }),
    60_000
  )

  it.scopedLive.skipIf(selfSigned === undefined)(
    tlsTitle("an https admin with a certificate Node does not trust: the diagnosis names NODE_EXTRA_CA_CERTS"),
    () =>
      Effect.gen(function*() {
        const server = yield* Effect.acquireRelease(
          Effect.promise(() =>
            new Promise<Https.Server>((resolve) => {
              const server = Https.createServer(selfSigned!, (_request, response) => response.end())
              server.listen(0, "127.0.0.1", () => resolve(server))
            })
          ),
          (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
        )
        const port = (server.address() as Net.AddressInfo).port
        const tls = yield* cli("check", "--admin", `https://127.0.0.1:${port}/xxl-job-admin`, "--app", "demo")
        assert.strictEqual(tls.code, 1)
        assert.include(tls.out, "self-signed certificate")
        assert.include(tls.out, "NODE_EXTRA_CA_CERTS")
      }),
    30_000
  )
})

/** The command line in this process, to its end: the `CliError` it failed with (its message), if any. */
const cliHere = (...args: Array<string>) =>
  Cli.run(["node", "effect-xxl-job", ...args]).pipe(
    Effect.provide(NodeContext.layer),
    Effect.flip,
    Effect.map((error) => (error as { message?: string }).message)
  )

describe("effect-xxl-job check: its options", () => {
  it.live("an --admin that is not a URL: one line naming --admin, on its own, exit 1", () =>
    Effect.gen(function*() {
      const { code, out } = yield* cli("check", "--admin", "notaurl", "--app", "x")
      assert.deepStrictEqual([code, out], [
        1,
        "effect-xxl-job: --admin \"notaurl\" is not an http:// or https:// URL: give the admin's base URL, " +
        "e.g. --admin http://host:8080/xxl-job-admin\n"
      ])
    }), 30_000)

  it.effect("an empty --admin or --app is refused, naming the option", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* cliHere("check", "--admin", "", "--app", "x"),
        "--admin is empty: give the admin's base URL, e.g. --admin http://host:8080/xxl-job-admin"
      )
      assert.strictEqual(
        yield* cliHere("check", "--admin", "http://127.0.0.1:1/xxl-job-admin", "--app", " "),
        "--app is empty: give the executor's AppName, as the admin knows it"
      )
      // The option named, the value as typed (a setting's name inside it stays).
      assert.strictEqual(
        yield* cliHere(
          "check",
          "--admin",
          "http://127.0.0.1:1/xxl-job-admin",
          "--app",
          "x",
          "--address",
          "ftp://my-address"
        ),
        "--address: expected http:// or https:// URLs, got \"ftp://my-address\""
      )
    }))
})

describe("effect-xxl-job admin", () => {
  it.scoped("a jobs file that cannot be used: one line naming the file and the job", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-cli-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const refusal = (name: string, jobs: unknown) => {
        const path = Path.join(dir, name)
        Fs.writeFileSync(path, JSON.stringify(jobs))
        return Effect.map(cliHere("admin", "--jobs-file", path, "--port", "0"), (message) => [path, message])
      }
      const misspelled = yield* refusal("misspelled.json", [{ jobId: 1, handler: "hi", schedule: { everySecond: 5 } }])
      assert.strictEqual(
        misspelled[1],
        `${misspelled[0]}: job 1 (hi): unknown key "everySecond" in schedule (did you mean "everySeconds"?)`
      )
      const badCron = yield* refusal("cron.json", [{ jobId: 2, handler: "report", schedule: { cron: "bad" } }])
      assert.strictEqual(
        badCron[1],
        `${badCron[0]}: job 2 (report): cron "bad" cannot be read (Validation error, cannot resolve alias "bad"): ` +
          "a Quartz cron expression has 6 fields, seconds first, e.g. \"0 0/5 * * * ?\""
      )
      const notArray = yield* refusal("object.json", { jobId: 1, handler: "hi" })
      assert.strictEqual(
        notArray[1],
        `${
          notArray[0]
        }: must be a JSON array of jobs: [{"jobId": 1, "handler": "…", "schedule": {"everySeconds": 10}}], ` +
          "got {\"jobId\":1,\"handler\":\"hi\"}"
      )
      // Not JSON at all: JSON.parse's message quotes the text, line breaks and all, on one line.
      const notJson = Path.join(dir, "broken.json")
      Fs.writeFileSync(notJson, "not json\n{\n")
      assert.strictEqual(
        yield* cliHere("admin", "--jobs-file", notJson, "--port", "0"),
        `cannot read ${notJson}: Unexpected token 'o', "not json { " is not valid JSON`
      )
    }))

  it.scopedLive(
    "serves the development admin: an executor registers and the job runs on its schedule",
    () =>
      Effect.gen(function*() {
        const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-cli-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
        const jobsFile = Path.join(dir, "jobs.json")
        Fs.writeFileSync(jobsFile, JSON.stringify([{ jobId: 1, handler: "hello", schedule: { everySeconds: 1 } }]))
        const port = yield* freePort
        const child = ChildProcess.spawn(
          process.execPath,
          ["--import", "tsx", bin, "admin", "--jobs-file", jobsFile, "--port", String(port)],
          { stdio: ["ignore", "pipe", "pipe"] }
        )
        yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
        let out = ""
        child.stdout.on("data", (chunk) => out += chunk)
        const until = (text: string) =>
          Effect.promise(() =>
            new Promise<void>((resolve, reject) => {
              const deadline = Date.now() + 20_000
              const check = () =>
                out.includes(text)
                  ? resolve()
                  : Date.now() > deadline
                  ? reject(new Error(`no "${text}" in: ${out}`))
                  : setTimeout(check, 20)
              check()
            })
          )
        yield* until("development admin at")
        yield* Layer.build(
          Executor.layer(Job.registry(Job.make({ name: "hello", run: Effect.succeed("hello from the executor") })))
            .pipe(Layer.provide(ExecutorConfig.layer({
              adminAddresses: `http://127.0.0.1:${port}/xxl-job-admin`,
              appName: "cli-admin-test",
              ip: "127.0.0.1",
              host: "127.0.0.1",
              port: 0,
              logPath: dir,
              logRetentionDays: 0
            })))
        )
        yield* until("✔ job 1 hello")
        assert.include(out, "→ 200 hello from the executor")
      }),
    60_000
  )
})
