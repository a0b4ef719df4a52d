/**
 * The development admin: its schedules driven by `TestClock` (cron with seconds and `?`, fixed rate), a
 * job fired by its schedule end to end, and its routing over two real executor processes on loopback
 * (first, last, round robin, sharding broadcast, busyover by /idleBeat, failover by /beat).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, TestClock } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { DevAdmin } from "../src/dev.js"
import { Executor, ExecutorConfig, Job } from "../src/index.js"
import { tempDir } from "./helpers/tempDirs.js"
import { waitUntil } from "./helpers/wait.js"

describe("schedules", () => {
  it.effect("a cron expression fires at its times (seconds first, ? allowed), by the Effect clock", () =>
    Effect.gen(function*() {
      const start = new Date(2026, 11, 1, 10, 0, 3).getTime()
      yield* TestClock.setTime(start)
      const fired: Array<number> = []
      const fiber = yield* DevAdmin.runSchedule(
        { cron: "*/10 * * * * ?" },
        (dueAt) => Effect.sync(() => fired.push((dueAt - start) / 1000))
      ).pipe(Effect.fork)
      yield* TestClock.adjust(Duration.seconds(36))
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(fired, [7, 17, 27])
    }))

  it.effect("a fixed rate fires every so many seconds from the start; a manual job never fires", () =>
    Effect.gen(function*() {
      const fired: Array<number> = []
      const fiber = yield* DevAdmin.runSchedule({ everySeconds: 15 }, (dueAt) => Effect.sync(() => fired.push(dueAt)))
        .pipe(Effect.fork)
      yield* TestClock.adjust(Duration.seconds(61))
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(fired, [15_000, 30_000, 45_000, 60_000])
      assert.strictEqual(DevAdmin.nextFireTime(undefined, 0), undefined)
    }))

  it.scoped("a bad cron expression or rate, or a jobId declared twice, is refused at start", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(DevAdmin.start({
        jobs: [{ jobId: 3, handler: "report", schedule: { cron: "0 61 * * * ?" } }],
        onEvent: false
      }))
      assert(error._tag === "DevAdminError")
      assert.deepStrictEqual([error.jobId, error.problem], [3, "BadSchedule"])
      assert.include(error.message, "job 3 (report)")
      const rate = yield* Effect.flip(DevAdmin.start({
        jobs: [{ jobId: 4, handler: "report", schedule: { everySeconds: 0 } }],
        onEvent: false
      }))
      assert.strictEqual(
        rate.message,
        "job 4 (report): schedule.everySeconds must be a number of seconds above 0, got 0"
      )
      const twice = yield* Effect.flip(DevAdmin.start({
        jobs: [{ jobId: 5, handler: "report" }, { jobId: 5, handler: "other" }],
        onEvent: false
      }))
      assert.include(twice.message, "job 5 is declared twice")
      assert(twice._tag === "DevAdminError")
      assert.deepStrictEqual([twice.jobId, twice.problem], [5, "DeclaredTwice"])
    }))

  it.scoped("a schedule's shape is checked (it may come from JSON): a misspelled key, neither or both kinds", () =>
    Effect.gen(function*() {
      const refusal = (schedule: unknown) =>
        Effect.flip(DevAdmin.start({
          jobs: [{ jobId: 1, handler: "hello", schedule: schedule as DevAdmin.Schedule }],
          onEvent: false
        }))
      const misspelled = yield* refusal({ everySecond: 5 })
      assert(misspelled._tag === "DevAdminError")
      assert.strictEqual(misspelled.problem, "BadSchedule")
      assert.strictEqual(
        misspelled.message,
        "job 1 (hello): unknown key \"everySecond\" in schedule (did you mean \"everySeconds\"?)"
      )
      assert.strictEqual(
        (yield* refusal({})).message,
        "job 1 (hello): schedule must have either \"cron\" or \"everySeconds\""
      )
      assert.strictEqual(
        (yield* refusal({ cron: "0 * * * * ?", everySeconds: 5 })).message,
        "job 1 (hello): schedule must have either \"cron\" or \"everySeconds\", not both"
      )
      assert.strictEqual(
        (yield* refusal({ cron: "0 bad * * * ?" })).message,
        "job 1 (hello): cron \"0 bad * * * ?\" cannot be read (Invalid characters, got value: bad): " +
          "a Quartz cron expression has 6 fields, seconds first, e.g. \"0 0/5 * * * ?\""
      )
    }))

  it("the view shows Java's <br> markers of a run's log as line breaks", () => {
    const lines: Array<string> = []
    DevAdmin.printEvent(
      DevAdmin.Event.Finished({
        job: { jobId: 1, handler: "hello" },
        logId: 7,
        code: 200,
        msg: "done",
        logTail: [
          "2026-12-01 10:00:00 [hello]-[INFO]-[job-1] <br>----------- xxl-job job execute start -----------<br>----------- Param:x",
          "<br>----------- xxl-job job callback finish."
        ]
      }),
      (line) => lines.push(line)
    )
    assert.deepStrictEqual(lines.slice(1), [
      "           │ 2026-12-01 10:00:00 [hello]-[INFO]-[job-1]",
      "           │ ----------- xxl-job job execute start -----------",
      "           │ ----------- Param:x",
      "           │ ----------- xxl-job job callback finish."
    ])
    assert.match(lines[0], /^\d\d:\d\d:\d\d ✔ job 1 hello #7 → 200 done$/)
  })

  it.scoped("a scheduled job runs on an executor and its result and log tail are reported (TestClock)", () =>
    Effect.gen(function*() {
      const events: Array<DevAdmin.Event> = []
      const dev = yield* DevAdmin.start({
        jobs: [{ jobId: 1, handler: "hello", params: "scheduled", schedule: { everySeconds: 60 } }],
        onEvent: (event) => events.push(event)
      })
      const logPath = tempDir("xxl-dev-")
      yield* Layer.build(
        Executor.layer(Job.registry(
          Job.make({ name: "hello", run: Effect.map(Job.JobContext, (context) => `hello ${context.params}`) })
        )).pipe(Layer.provide(ExecutorConfig.layer({
          adminAddresses: dev.admin.url,
          appName: "dev-test",
          ip: "127.0.0.1",
          host: "127.0.0.1",
          port: 0,
          logPath,
          logRetentionDays: 0
        })))
      )
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(logPath, { recursive: true, force: true })))
      assert.deepStrictEqual(events, [])
      yield* TestClock.adjust(Duration.seconds(60))
      // The run itself happens over real sockets: wait for its report in real time.
      yield* Effect.promise(() =>
        new Promise<void>((resolve) => {
          const check = () => events.some((event) => event._tag === "Finished") ? resolve() : setTimeout(check, 10)
          check()
        })
      )
      const finished = events.find((event) => event._tag === "Finished")!
      assert.strictEqual(finished.code, 200)
      assert.strictEqual(finished.msg, "hello scheduled")
      assert.isTrue(finished.logTail.some((line) => line.includes("xxl-job job execute end")))
      assert.strictEqual(events[0]._tag, "Triggered")
    }))
})

// ---------------------------------------------------------------------------------------------------------
// Routing over two executor processes
// ---------------------------------------------------------------------------------------------------------

const fixture = Path.join(import.meta.dirname, "fixtures", "executor.ts")

/**
 * An executor process (test/fixtures/executor.ts) registered with `adminUrl`, and what it printed (its
 * address is in it); killed when the scope closes.
 */
const executorProcess = (adminUrl: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", fixture], {
        env: {
          ...process.env,
          XXL_JOB_ADMIN_ADDRESSES: adminUrl,
          XXL_JOB_EXECUTOR_APPNAME: "dev-routing",
          XXL_JOB_EXECUTOR_IP: "127.0.0.1",
          XXL_JOB_EXECUTOR_HOST: "127.0.0.1",
          XXL_JOB_EXECUTOR_PORT: "0",
          XXL_JOB_EXECUTOR_LOGPATH: tempDir("xxl-dev-route-")
        },
        stdio: ["ignore", "pipe", "ignore"]
      })
      const output = { text: "" }
      child.stdout.on("data", (chunk) => output.text += chunk)
      return { child, output }
    }),
    ({ child }) => Effect.sync(() => child.kill("SIGKILL"))
  )

describe("routing over two executors", () => {
  it.scopedLive("an executor that stopped beating is no longer routed to, as the admin drops a dead one", () =>
    Effect.gen(function*() {
      const dev = yield* DevAdmin.start({ jobs: [{ jobId: 1, handler: "hello" }], onEvent: false })
      // Two beats 100 ms apart, then none: offline after three of its intervals.
      const beat = Effect.promise(() =>
        fetch(`${dev.admin.url}/api/registry`, {
          method: "POST",
          body: JSON.stringify({ registryGroup: "EXECUTOR", registryKey: "gone", registryValue: "http://127.0.0.1:1/" })
        }).then((response) => response.json() as Promise<{ code: number }>)
      )
      assert.strictEqual((yield* beat).code, 200)
      yield* Effect.sleep(Duration.millis(100))
      assert.strictEqual((yield* beat).code, 200)
      yield* Effect.sleep(Duration.millis(400))
      assert.deepStrictEqual(yield* dev.trigger(1), [])
      const events = yield* dev.events
      assert.deepStrictEqual(
        events.map((event) => event._tag === "NotTriggered" ? event.reason : event._tag),
        ["no executor is online (none beats)"]
      )
    }))

  it.scopedLive(
    "first, last, round robin, sharding broadcast, busyover and failover pick executors as the admin does",
    () =>
      Effect.gen(function*() {
        const dev = yield* DevAdmin.start({
          onEvent: false,
          jobs: [
            { jobId: 1, handler: "echo", params: "first", route: "FIRST" },
            { jobId: 2, handler: "echo", params: "last", route: "LAST" },
            { jobId: 3, handler: "echo", params: "round", route: "ROUND" },
            { jobId: 4, handler: "echo", params: "shard", route: "SHARDING_BROADCAST" },
            { jobId: 5, handler: "sleep", params: "10", route: "BUSYOVER" },
            { jobId: 6, handler: "echo", params: "failover", route: "FAILOVER" }
          ]
        })
        const processes = [yield* executorProcess(dev.admin.url!), yield* executorProcess(dev.admin.url!)]
        yield* waitUntil("two executors", Effect.map(dev.admin.executors, (list) => list.length === 2), 20_000)
        const [a, b] = [...(yield* dev.admin.executors)].sort()
        const sentTo = (jobId: number) => Effect.map(dev.trigger(jobId), (sent) => sent.map((t) => t.executor))

        assert.deepStrictEqual(yield* sentTo(1), [a])
        assert.deepStrictEqual(yield* sentTo(2), [b])
        assert.deepStrictEqual(
          [...(yield* sentTo(3)), ...(yield* sentTo(3)), ...(yield* sentTo(3))],
          [a, b, a]
        )
        const shards = yield* dev.trigger(4)
        assert.deepStrictEqual(shards.map((t) => t.executor), [a, b])
        for (const t of shards) assert.strictEqual((yield* dev.admin.result(t.logId, "10 seconds")).handleCode, 200)

        // Busyover: both idle, the first takes a long run (params override the declared 10 ms), and its
        // /idleBeat then says busy, so the next trigger goes to the second.
        const busy = yield* dev.trigger(5, "30000")
        assert.deepStrictEqual(busy.map((t) => t.executor), [a])
        yield* waitUntil(
          "the run to start",
          Effect.map(
            Effect.either(dev.admin.call("/idleBeat", "{\"jobId\":5}", a)),
            (r) => r._tag === "Right" && r.right.code === 500
          ),
          20_000
        )
        assert.deepStrictEqual(yield* sentTo(5), [b])

        // Failover: the first executor dies without leaving the registry; /beat finds the second.
        processes.find(({ output }) => output.text.includes(`registered as ${a}`))!.child.kill("SIGKILL")
        yield* waitUntil(
          "the first executor to be gone",
          Effect.map(Effect.either(dev.admin.call("/beat", undefined, a)), (r) => r._tag === "Left"),
          20_000
        )
        const failover = yield* dev.trigger(6)
        assert.deepStrictEqual(
          failover.map((t) => t.executor),
          [b]
        )
        assert.strictEqual((yield* dev.admin.result(failover[0].logId, "10 seconds")).handleMsg, "failover")
      }),
    60_000
  )
})
