import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Either, Equal, FastCheck as fc, Hash, Schema } from "effect"
import { Wire } from "../src/index.js"
import * as WireCodecs from "../src/internal/wireCodecs.js"

const decode = <A, I>(schema: Schema.Schema<A, I>) => Schema.decodeUnknownEither(schema)

describe("Wire", () => {
  it("decodes a trigger as leniently as Gson: numeric strings, nulls, missing and unknown fields", () => {
    const trigger = Either.getOrThrow(
      decode(Wire.TriggerParam)({
        jobId: "5",
        executorHandler: "echo",
        executorParams: null,
        executorTimeout: 3.0,
        logId: "1001",
        logDateTime: 1795459206267,
        glueType: "BEAN",
        somethingNew: { nested: true }
      })
    )
    assert.strictEqual(trigger.jobId, 5)
    assert.strictEqual(trigger.executorParams, "")
    assert.strictEqual(trigger.executorBlockStrategy, "SERIAL_EXECUTION")
    assert.strictEqual(trigger.executorTimeout, 3)
    assert.strictEqual(trigger.logId, 1001)
    assert.strictEqual(trigger.broadcastIndex, 0)
    assert.strictEqual(trigger.broadcastTotal, 1)
    assert.strictEqual(trigger.glueType, "BEAN")
    const bare = Either.getOrThrow(decode(Wire.TriggerParam)({}))
    assert.strictEqual(bare.glueType, undefined)
    assert.strictEqual(bare.jobId, 0)
  })

  it("refuses what Gson refuses: fractions and out-of-range ints, objects for numbers", () => {
    assert.isTrue(Either.isLeft(decode(Wire.TriggerParam)({ jobId: 1.5 })))
    assert.isTrue(Either.isLeft(decode(Wire.TriggerParam)({ jobId: 2147483648 })))
    assert.isTrue(Either.isLeft(decode(Wire.TriggerParam)({ logId: 1e30 })))
    assert.isTrue(Either.isLeft(decode(Wire.TriggerParam)({ jobId: { x: 1 } })))
    assert.isTrue(Either.isLeft(decode(Wire.JobIdParam)({ jobId: "abc" })))
  })

  it("reads /log params in both spellings of the date", () => {
    const released = Either.getOrThrow(decode(Wire.LogParam)({ logDateTim: 10, logId: 1, fromLineNum: 2 }))
    const next = Either.getOrThrow(decode(Wire.LogParam)({ logDateTime: 20, logId: 1, fromLineNum: 2 }))
    assert.strictEqual(released.triggerTime, 10)
    assert.strictEqual(next.triggerTime, 20)
  })

  it("replies carry the payload under content and data, and drop what is undefined", () => {
    assert.deepStrictEqual(Wire.success(), { code: 200, msg: "Success" })
    assert.deepStrictEqual(Wire.failure("x"), { code: 500, msg: "x" })
    assert.deepStrictEqual(Wire.success({ a: 1 }), { code: 200, msg: "Success", content: { a: 1 }, data: { a: 1 } })
  })

  it("a callback item carries handleCode/handleMsg and the 2.2 executeResult copy; 3.5 is an object list", () => {
    const item = new Wire.CallbackItem({ logId: 7, logDateTim: 99, handleCode: 500, handleMsg: "boom" })
    const classic = Wire.encodeCallbackBody([item], "classic")
    assert.deepStrictEqual(classic, [{
      logId: 7,
      logDateTim: 99,
      handleCode: 500,
      handleMsg: "boom",
      executeResult: { code: 500, msg: "boom" }
    }])
    const ok = new Wire.CallbackItem({ logId: 8, logDateTim: 99, handleCode: 200, handleMsg: undefined })
    assert.deepStrictEqual(JSON.parse(JSON.stringify(Wire.encodeCallbackBody([ok], "classic"))), [{
      logId: 8,
      logDateTim: 99,
      handleCode: 200,
      executeResult: { code: 200 }
    }])
    assert.deepStrictEqual(Wire.encodeCallbackBody([item], "3.5"), {
      callbackList: [{ logId: 7, logDateTime: 99, handleCode: 500, handleMsg: "boom" }]
    })
  })

  it("the mock admin reads every callback form back", () => {
    const read = (body: unknown) => Either.getOrThrow(decode(Wire.CallbackBody)(body))
    const item = new Wire.CallbackItem({ logId: 7, logDateTim: 99, handleCode: 500, handleMsg: "boom" })
    for (const protocol of ["classic", "3.5"] as const) {
      assert.deepStrictEqual(read(JSON.parse(JSON.stringify(Wire.encodeCallbackBody([item], protocol)))), [item])
    }
    assert.deepStrictEqual(read([{ logId: 7, logDateTim: 99, executeResult: { code: 500, msg: "boom" } }]), [item])
  })

  it("decodeTrigger's fast path and the Schema agree on every input, typical or not", () => {
    const decodeSchema = Schema.decodeUnknownEither(Wire.TriggerParam)
    const inputs = fc.oneof(
      Arbitrary.make(Schema.encodedSchema(Wire.TriggerParam)),
      Arbitrary.make(Wire.TriggerParam).map((t) => ({ ...t })),
      fc.dictionary(
        fc.constantFrom("jobId", "logId", "logDateTime", "executorHandler", "broadcastTotal", "glueType"),
        fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null), fc.boolean())
      )
    )
    // Bodies arrive as JSON: what JSON cannot carry (undefined, NaN) is gone before decoding.
    fc.assert(
      fc.property(inputs.map((value) => JSON.parse(JSON.stringify(value))), (json) => {
        const fast = WireCodecs.decodeTrigger(json)
        const slow = decodeSchema(json)
        assert.strictEqual(Either.isRight(fast), Either.isRight(slow))
        if (Either.isRight(fast) && Either.isRight(slow)) {
          assert.deepStrictEqual({ ...fast.right }, { ...slow.right })
          assert.isTrue(fast.right instanceof Wire.TriggerParam && Equal.equals(fast.right, slow.right))
        }
      }),
      { numRuns: 3000 }
    )
  })

  it("trustedInstance makes what the class's constructor makes, for the classes it is used for", () => {
    const alike = <C extends new(fields: any, options?: boolean) => object>(Class: C, schema: Schema.Schema<any>) =>
      fc.assert(
        fc.property(Arbitrary.make(schema), (value) => {
          const fields = { ...value }
          const made = new Class({ ...fields }, true)
          const fast = WireCodecs.trustedInstance(Class, { ...fields })
          assert.isTrue(fast instanceof Class)
          assert.isTrue(Equal.equals(fast, made) && Equal.equals(made, fast))
          assert.strictEqual(Hash.hash(fast), Hash.hash(made))
          assert.deepStrictEqual(Object.keys(fast), Object.keys(made))
          assert.strictEqual(JSON.stringify(fast), JSON.stringify(made))
          assert.strictEqual(String(fast), String(made))
        }),
        { numRuns: 300 }
      )
    alike(Wire.TriggerParam, Wire.TriggerParam)
    alike(Wire.CallbackItem, Wire.CallbackItem)
  })

  it("encodeCallbackJson writes what JSON.stringify makes of encodeCallbackBody, in both protocols", () =>
    fc.assert(
      fc.property(fc.array(Arbitrary.make(Wire.CallbackItem), { maxLength: 5 }), (items) => {
        for (const protocol of ["classic", "3.5"] as const) {
          assert.strictEqual(
            WireCodecs.encodeCallbackJson(items, protocol),
            JSON.stringify(Wire.encodeCallbackBody(items, protocol))
          )
        }
      }),
      { numRuns: 500 }
    ))
})
