import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Job, MockAdmin } from "../src/index.js"

const Echo = Job.make({
  name: "echo",
  run: Effect.gen(function*() {
    const ctx = yield* Job.JobContext
    yield* Effect.log("hello from echo", ctx.params)
    return ctx.params
  })
})
const Typed = Job.make({
  name: "typed",
  params: Schema.parseJson(Schema.Struct({ n: Schema.Number })),
  run: ({ n }) => Effect.succeed(`n=${n}`)
})
const jobs = Job.registry(Echo, Typed)

describe("smoke", () => {
  it.live("in process", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { result, triggered } = yield* admin.run({ handler: "echo", params: "hi" })
      assert.strictEqual(result.handleCode, 200)
      assert.strictEqual(result.handleMsg, "hi")
      const log = yield* admin.log(triggered.logId)
      console.log(log)
      const bad = yield* admin.run({ handler: "typed", params: "{\"n\":\"x\"}" })
      console.log(bad.result)
      const good = yield* admin.run({ handler: "typed", params: "{\"n\":3}" })
      assert.strictEqual(good.result.handleMsg, "n=3")
    }).pipe(Effect.provide(MockAdmin.layer(jobs))))

  it.live("over http", () =>
    Effect.gen(function*() {
      const admin = yield* MockAdmin.MockAdmin
      const { result, triggered } = yield* admin.run({ handler: "echo", params: "hi" })
      assert.strictEqual(result.handleCode, 200)
      const log = yield* admin.log(triggered.logId)
      console.log(log, yield* admin.registrations)
      console.log(yield* admin.call("/run?x=1", "{}"))
    }).pipe(Effect.provide(MockAdmin.layerHttp(jobs))))
})
