/**
 * The 3.5 wire (unreleased admin), end to end over loopback HTTP: `/trigger`, the XXL-JOB-APPNAME header
 * checked with the token, `logDateTime` in `/log`, and `{"callbackList":[...]}` callbacks.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Executor, Job } from "../src/index.js"
import { MockAdmin } from "../src/testing.js"

const Echo = Job.make({ name: "echo", run: Effect.map(Job.JobContext, (context) => context.params) })
const jobs = Job.registry(Echo)

const post = (url: string, headers: Record<string, string>) =>
  Effect.promise(() => fetch(url, { method: "POST", headers, body: "" }).then((response) => response.json()))

describe("protocol 3.5", () => {
  it.live("triggers at /trigger, pages the log by logDateTime, and delivers callbackList callbacks", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const executor = yield* Executor.Executor
      const { result, triggered } = yield* admin.run({ handler: "echo", params: "three-five" })
      assert.deepStrictEqual([result.handleCode, result.handleMsg], [200, "three-five"])
      assert.include((yield* admin.log(triggered.logId)).logContent, "Param:three-five")
      const beat = `${executor.address}beat`
      assert.deepStrictEqual(yield* post(beat, {}), {
        code: 500,
        msg: "invalid request, accessToken or appname is empty."
      })
      assert.deepStrictEqual(
        yield* post(beat, { "XXL-JOB-ACCESS-TOKEN": "tok", "XXL-JOB-APPNAME": "someone-else" }),
        { code: 500, msg: "invalid request, accessToken or appname invalid." }
      )
      assert.deepStrictEqual(
        yield* post(beat, { "XXL-JOB-ACCESS-TOKEN": "tok", "XXL-JOB-APPNAME": "app-35" }),
        { code: 200, msg: "Success" }
      )
    }).pipe(Effect.provide(MockAdmin.layerHttp(jobs, {
      protocol: "3.5",
      accessToken: "tok",
      appName: "app-35"
    }))))
})
