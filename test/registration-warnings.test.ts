/**
 * What the registry beat says while the admin refuses it: one line with what to look at (the diagnosis of
 * `effect-xxl-job check`), no stack trace, once per distinct problem, and when it is registered (again).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Layer, Logger, TestClock } from "effect"
import * as AdminClient from "../src/AdminClient.js"
import * as ExecutorConfig from "../src/ExecutorConfig.js"
import * as Registration from "../src/internal/registration.js"

const adminUrl = "http://127.0.0.1:1/xxl-job-admin"

const wrongToken = AdminClient.AdminProblem.Refused({ code: 500, msg: "The access token is wrong." })
const down = AdminClient.AdminProblem.Unreachable({ cause: new Error("connect ECONNREFUSED 127.0.0.1:1") })

/** An admin client whose calls fail with `problem` while it is set. */
const refusingAdmin = () => {
  const state: { problem: AdminClient.AdminProblem | undefined } = { problem: wrongToken }
  const call = (operation: AdminClient.Operation) =>
    Effect.suspend(() =>
      state.problem === undefined
        ? Effect.void
        : Effect.fail(
          new AdminClient.AdminError({
            operation,
            attempts: [{ url: `${adminUrl}/api/${operation}`, problem: state.problem }]
          })
        )
    )
  const client = AdminClient.AdminClient.of({
    registry: () => call("registry"),
    registryRemove: () => call("registryRemove"),
    callback: () => Effect.void
  })
  return { client, state }
}

/** The log lines written, each with its level, and whether a cause (a stack trace) came with it. */
const capturing = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ cause, logLevel, message }) => {
    const text = (Array.isArray(message) ? message : [message]).join(" ")
    lines.push(`${logLevel.label} ${text}${Cause.isEmpty(cause) ? "" : " [with a cause]"}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("the registry beat's warnings", () => {
  it.effect("one line per distinct problem, with its hint and no stack; registered, and registered again", () =>
    Effect.gen(function*() {
      const admin = refusingAdmin()
      const log = capturing()
      const tokenHint = "→ XXL_JOB_ACCESS_TOKEN (accessToken) must equal xxl.job.accessToken in the admin's " +
        "application.properties"
      const retrying = "(retrying every 30s; logged again only if this changes)"
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Registration.start("http://127.0.0.1:9999/")
        yield* TestClock.adjust(Duration.seconds(1))
        // The same refusal at every beat: told once.
        yield* TestClock.adjust(Duration.seconds(60))
        admin.state.problem = down
        yield* TestClock.adjust(Duration.seconds(30))
        admin.state.problem = undefined
        yield* TestClock.adjust(Duration.seconds(30))
        yield* TestClock.adjust(Duration.seconds(30))
        admin.state.problem = wrongToken
        yield* TestClock.adjust(Duration.seconds(30))
        admin.state.problem = undefined
        yield* TestClock.adjust(Duration.seconds(30))
        admin.state.problem = wrongToken
      })).pipe(
        Effect.provide(Layer.mergeAll(
          ExecutorConfig.layer({ appName: "app", adminAddresses: adminUrl }),
          Layer.succeed(AdminClient.AdminClient, admin.client)
        )),
        Effect.provide(log.layer)
      )
      assert.deepStrictEqual(log.lines, [
        `WARN not registered with the admin: registry failed: ${adminUrl}/api/registry code 500: ` +
        `The access token is wrong. ${tokenHint} ${retrying}`,
        `WARN not registered with the admin: registry failed: ${adminUrl}/api/registry unreachable ` +
        "(connect ECONNREFUSED 127.0.0.1:1) → is the admin running, and reachable from here? (a proxy: HTTP_PROXY / " +
        `NO_PROXY) ${retrying}`,
        "INFO registered as http://127.0.0.1:9999/ with the admin",
        `WARN no longer registered with the admin: registry failed: ${adminUrl}/api/registry code 500: ` +
        `The access token is wrong. ${tokenHint} ${retrying}`,
        "INFO registered again as http://127.0.0.1:9999/ with the admin",
        `WARN registryRemove failed: ${adminUrl}/api/registryRemove code 500: The access token is wrong. ${tokenHint}`
      ])
    }))
})
