/**
 * The development admin's console in a real browser (Debian's chromium, headless, driven by playwright-core;
 * no browser download), through the page only: the jobs listed, a run once with params and its log lines
 * and result, a failure and a timeout, a long run killed and the kill's result. It saves a screenshot: to
 * docs/console.png with UPDATE_SCREENSHOT=1, else to a temp dir. Skipped, saying so, where no chromium is.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { chromium } from "playwright-core"
import { consoleUrl, devAdminWithExecutor } from "./helpers/console.js"

const browserPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const hasBrowser = Fs.existsSync(browserPath)

/** A headless chromium for the scope; its sandbox off only as root, where chromium refuses to start with it. */
const browser = Effect.acquireRelease(
  Effect.promise(() =>
    chromium.launch({
      executablePath: browserPath,
      headless: true,
      args: process.getuid?.() === 0 ? ["--no-sandbox"] : []
    })
  ),
  (browser) => Effect.promise(() => browser.close())
)

describe(
  hasBrowser
    ? "the console in a real browser"
    : `the console in a real browser (skipped: no ${browserPath}; install Debian's chromium or set CHROMIUM_PATH)`,
  () => {
    it.scopedLive.skipIf(!hasBrowser)(
      "lists the jobs, runs one with params and tails its log, shows a failure, a timeout and a kill",
      () =>
        Effect.gen(function*() {
          const dev = yield* devAdminWithExecutor([
            { jobId: 1, handler: "echo", params: "hello", schedule: { cron: "0 0 3 * * ?" } },
            { jobId: 2, handler: "sleep", params: "{\"ms\":30000}", route: "ROUND" },
            { jobId: 3, handler: "fail", schedule: { cron: "0 0 4 * * ?" } },
            {
              jobId: 4,
              handler: "sleep",
              params: "{\"ms\":3000}",
              timeoutSeconds: 1,
              blockStrategy: "DISCARD_LATER",
              schedule: { everySeconds: 3600 }
            }
          ])
          const page = yield* Effect.flatMap(browser, (browser) =>
            Effect.promise(() => browser.newPage({ viewport: { width: 1360, height: 900 } })))
          const timeout = 8000
          const ui = <A>(step: () => Promise<A>) =>
            Effect.promise(step)
          yield* ui(() => page.goto(consoleUrl(dev)))

          // The jobs as declared, the executor online.
          const jobRow = (jobId: number) => page.locator(`#jobs tr[data-job="${jobId}"]`)
          yield* ui(() => jobRow(4).waitFor({ timeout }))
          assert.deepStrictEqual(
            yield* ui(() => page.locator("#jobs tbody tr td:nth-child(2)").allTextContents()),
            ["echo", "sleep", "fail", "sleep"]
          )
          assert.include(yield* ui(() => jobRow(1).textContent()), "cron 0 0 3 * * ?")
          assert.include(yield* ui(() => jobRow(4).textContent()), "every 3600 s")
          yield* ui(() => page.locator("#executors .badge.online").waitFor({ timeout }))

          // Run once with params: the log tails in, then the result.
          yield* ui(() => jobRow(1).locator("input.params").fill("from the browser"))
          yield* ui(() => jobRow(1).getByRole("button", { name: "Run once" }).click())
          yield* ui(() => page.locator("#log", { hasText: "echoing from the browser" }).waitFor({ timeout }))
          yield* ui(() =>
            page.locator("#runs tbody tr", { hasText: "hello from the browser" }).locator(".badge.success").waitFor({
              timeout
            })
          )
          yield* ui(() => page.locator("#log", { hasText: "xxl-job job execute end" }).waitFor({ timeout }))

          // A failure and a timeout, as such.
          yield* ui(() => jobRow(3).getByRole("button", { name: "Run once" }).click())
          yield* ui(() =>
            page.locator("#runs tbody tr", { hasText: "this job always fails" }).locator(".badge.failed").waitFor({
              timeout
            })
          )
          yield* ui(() => jobRow(4).getByRole("button", { name: "Run once" }).click())
          yield* ui(() =>
            page.locator("#runs tbody tr", { hasText: "job execute timeout" }).locator(".badge.timed-out").waitFor({
              timeout
            })
          )

          // A long run: its log lines come in while it runs; a kill ends it with the kill's result.
          yield* ui(() => jobRow(2).getByRole("button", { name: "Run once" }).click())
          yield* ui(() => page.locator("#log", { hasText: "slept 300 ms of 30000" }).waitFor({ timeout }))
          yield* ui(() => page.locator("#log-status .badge.running").waitFor({ timeout }))
          yield* ui(() => jobRow(2).getByRole("button", { name: "Kill" }).click())
          yield* ui(() =>
            page.locator("#runs tbody tr", { hasText: "scheduling center kill job. [job running, killed]" })
              .locator(".badge.killed").waitFor({ timeout })
          )
          yield* ui(() => page.locator("#log-status .badge.killed").waitFor({ timeout }))
          yield* ui(() => page.locator("#log", { hasText: "scheduling center kill job." }).waitFor({ timeout }))

          // The screenshot a user sees in docs/ (made on purpose only; else somewhere temporary).
          const screenshot = process.env.UPDATE_SCREENSHOT === "1"
            ? Path.join(import.meta.dirname, "..", "docs", "console.png")
            : Path.join(
              yield* Effect.acquireRelease(
                Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-console-shot-"))),
                (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
              ),
              "console.png"
            )
          yield* ui(() => page.screenshot({ path: screenshot, fullPage: true }))
          assert.isAbove(Fs.statSync(screenshot).size, 10_000)
        }),
      30_000
    )
  }
)
