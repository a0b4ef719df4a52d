import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Logger, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { ExecutorConfig } from "../src/index.js"
import { nearestName } from "../src/internal/nearestName.js"
import { registeredAddress } from "../src/internal/registration.js"

const fromEnv = (env: Record<string, string>, options: ExecutorConfig.Options = {}) =>
  ExecutorConfig.fromEnv(options).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.either
  )

describe("ExecutorConfig", () => {
  it.effect("defaults follow the Java executor", () =>
    Effect.gen(function*() {
      const settings = yield* ExecutorConfig.make()
      assert.strictEqual(settings.port, 9999)
      assert.strictEqual(settings.logPath, "/data/applogs/xxl-job/jobhandler")
      assert.strictEqual(settings.logRetentionDays, 30)
      assert.isTrue(Duration.equals(settings.registryInterval, Duration.seconds(30)))
      assert.isTrue(Duration.equals(settings.adminTimeout, Duration.seconds(3)))
      assert.strictEqual(settings.maxBodyBytes, 5 * 1024 * 1024)
      assert.strictEqual(settings.callbackBatchSize, 50)
      assert.deepStrictEqual(settings.adminAddresses, [])
      assert.strictEqual(Redacted.value(settings.accessToken), "")
    }))

  it.effect("reads the Java property names as environment variables, over the code's options", () =>
    Effect.gen(function*() {
      const result = yield* fromEnv({
        XXL_JOB_ADMIN_ADDRESSES: "http://a:8080/xxl-job-admin, http://b:8080/xxl-job-admin",
        XXL_JOB_ACCESS_TOKEN: "secret",
        XXL_JOB_EXECUTOR_APPNAME: "my-app",
        XXL_JOB_EXECUTOR_PORT: "9998",
        XXL_JOB_EXECUTOR_LOGRETENTIONDAYS: "7",
        XXL_JOB_EXECUTOR_REGISTRY_INTERVAL_SECONDS: "10"
      }, { appName: "from-code", logPath: "/tmp/from-code" })
      const settings = Either.getOrThrow(result)
      assert.deepStrictEqual(settings.adminAddresses, ["http://a:8080/xxl-job-admin", "http://b:8080/xxl-job-admin"])
      assert.strictEqual(settings.appName, "my-app")
      assert.strictEqual(settings.logPath, "/tmp/from-code")
      assert.strictEqual(settings.port, 9998)
      assert.strictEqual(settings.logRetentionDays, 7)
      assert.isTrue(Duration.equals(settings.registryInterval, Duration.seconds(10)))
      assert.strictEqual(Redacted.value(settings.accessToken), "secret")
      // The token never shows when the settings are printed or logged.
      assert.notInclude(String(settings.accessToken), "secret")
      assert.notInclude(JSON.stringify(settings), "secret")
    }))

  it.effect("a bad value fails at start with a message naming its variable", () =>
    Effect.gen(function*() {
      const cases: Array<[Record<string, string>, string]> = [
        [{ XXL_JOB_EXECUTOR_PORT: "abc" }, "XXL_JOB_EXECUTOR_PORT"],
        [{ XXL_JOB_EXECUTOR_PORT: "70000" }, "XXL_JOB_EXECUTOR_PORT"],
        [{ XXL_JOB_ADMIN_ADDRESSES: "ftp://x", XXL_JOB_EXECUTOR_APPNAME: "a" }, "XXL_JOB_ADMIN_ADDRESSES"],
        [{ XXL_JOB_ADMIN_ADDRESSES: "http://x:8080/xxl-job-admin" }, "XXL_JOB_EXECUTOR_APPNAME"],
        [{ XXL_JOB_EXECUTOR_LOGRETENTIONDAYS: "3.5" }, "XXL_JOB_EXECUTOR_LOGRETENTIONDAYS"],
        [{ XXL_JOB_PROTOCOL: "4.0" }, "XXL_JOB_PROTOCOL"],
        [{ XXL_JOB_EXECUTOR_ADDRESS: "not a url" }, "XXL_JOB_EXECUTOR_ADDRESS"],
        [{ XXL_JOB_EXECUTOR_LOGSTORE: "mongo" }, "XXL_JOB_EXECUTOR_LOGSTORE"],
        [{ XXL_JOB_EXECUTOR_METRICS: "70000" }, "XXL_JOB_EXECUTOR_METRICS"],
        [{ XXL_JOB_EXECUTOR_METRICS: "yes" }, "XXL_JOB_EXECUTOR_METRICS"],
        [{ XXL_JOB_EXECUTOR_LOG_FORMAT: "xml" }, "XXL_JOB_EXECUTOR_LOG_FORMAT"],
        [{ XXL_JOB_EXECUTOR_REDIS_URL: "http://user:hunter2@127.0.0.1:6379" }, "XXL_JOB_EXECUTOR_REDIS_URL"],
        // Headers carry these two: Node would refuse every request to the admin.
        [{ XXL_JOB_ACCESS_TOKEN: "hunter2\nX-Injected: 1" }, "XXL_JOB_ACCESS_TOKEN"],
        [{ XXL_JOB_ACCESS_TOKEN: "令牌" }, "XXL_JOB_ACCESS_TOKEN"],
        [{ XXL_JOB_EXECUTOR_APPNAME: "app\u0000" }, "XXL_JOB_EXECUTOR_APPNAME"]
      ]
      for (const [env, name] of cases) {
        const result = yield* fromEnv(env)
        assert.isTrue(Either.isLeft(result), name)
        if (Either.isLeft(result)) {
          assert.strictEqual(result.left.setting, name)
          assert.match(result.left.message, new RegExp(`^${name}: `))
        }
      }
      // Nor does a bad token's error repeat the token; a tab, or Latin-1, is fine in a header.
      const badToken = yield* fromEnv({ XXL_JOB_ACCESS_TOKEN: "hunter2\r\n" + "x" })
      assert.isTrue(Either.isLeft(badToken) && !badToken.left.message.includes("hunter2"))
      assert.isTrue(Either.isRight(yield* fromEnv({ XXL_JOB_ACCESS_TOKEN: "tab\there, café" })))
      // A Redis URL may carry a password: the error does not repeat it.
      const badRedis = yield* fromEnv({ XXL_JOB_EXECUTOR_REDIS_URL: "http://user:hunter2@127.0.0.1:6379" })
      assert.isTrue(Either.isLeft(badRedis) && !badRedis.left.message.includes("hunter2"))
      const redis = yield* fromEnv({
        XXL_JOB_EXECUTOR_LOGSTORE: "redis",
        XXL_JOB_EXECUTOR_REDIS_URL: "redis://:hunter2@10.0.0.5:6380/2"
      })
      assert.isTrue(Either.isRight(redis) && redis.right.logStore === "redis")
      assert.notInclude(JSON.stringify(Either.getOrThrow(redis)), "hunter2")
      const fromCode = yield* Effect.either(ExecutorConfig.make({ port: -1 }))
      assert.isTrue(Either.isLeft(fromCode) && fromCode.left.setting === "port")
    }))

  it.effect("a bad value's error prints as its one line: its stack holds no frames of our code", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ExecutorConfig.make({ port: -1 }))
      assert.strictEqual(error.stack, "ExecutorConfigError: port: expected an integer from 0 to 65535, got -1")
    }))

  it("the registered address is the configured one verbatim, else http://{ip}:{port}/", () => {
    const base = Effect.runSync(ExecutorConfig.make({ ip: "10.0.0.5" }))
    assert.strictEqual(registeredAddress(base, 9999), "http://10.0.0.5:9999/")
    assert.strictEqual(
      registeredAddress({ ...base, ip: "::1" }, 9999),
      "http://[::1]:9999/"
    )
    const fixed = Effect.runSync(ExecutorConfig.make({ address: "http://executor.svc:9999" }))
    assert.strictEqual(registeredAddress(fixed, 1234), "http://executor.svc:9999")
  })
})

describe("unknown XXL_JOB_* variables", () => {
  /** The warnings logged while `use` runs with `env` added to the process's environment (taken back after). */
  const warningsWith = <A, E>(env: Record<string, string>, use: Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ logLevel, message }) => {
          if (logLevel.label === "WARN") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
        })
      )
      Object.assign(process.env, env)
      yield* use.pipe(
        Effect.provide(capture),
        Effect.ensuring(Effect.sync(() => Object.keys(env).forEach((name) => delete process.env[name])))
      )
      // Only ours: the environment the tests run in may hold others.
      return warnings.filter((line) => Object.keys(env).some((name) => line.startsWith(`${name} `)))
    })

  it.effect("are warned of when the settings come from the environment, with the nearest known name", () =>
    Effect.gen(function*() {
      const warnings = yield* warningsWith(
        { XXL_JOB_EXECUTOR_PROT: "9998", XXL_JOB_EXECUTOR_LOG_PATH: "/tmp/x", XXL_JOB_MY_APP_SECRET: "s" },
        Effect.provide(ExecutorConfig.ExecutorConfig, ExecutorConfig.layerFromEnv({}, { envFile: false }))
      )
      assert.deepStrictEqual(warnings, [
        "XXL_JOB_EXECUTOR_LOG_PATH is not a variable the executor reads, so it is ignored: did you mean XXL_JOB_EXECUTOR_LOGPATH?",
        "XXL_JOB_EXECUTOR_PROT is not a variable the executor reads, so it is ignored: did you mean XXL_JOB_EXECUTOR_PORT?",
        "XXL_JOB_MY_APP_SECRET is not a variable the executor reads, so it is ignored"
      ])
      // Settings from code read no variable: nothing to say.
      const fromCode = yield* warningsWith(
        { XXL_JOB_EXECUTOR_PROT: "9998" },
        Effect.provide(ExecutorConfig.ExecutorConfig, ExecutorConfig.layer({}))
      )
      assert.deepStrictEqual(fromCode, [])
    }))

  it("the nearest name forgives case and underscores, and is none when nothing is near", () => {
    const known = Object.values(ExecutorConfig.environmentNames)
    assert.strictEqual(nearestName("XXL_JOB_EXECUTOR_PROT", known), "XXL_JOB_EXECUTOR_PORT")
    assert.strictEqual(nearestName("xxl_job_executor_port", known), "XXL_JOB_EXECUTOR_PORT")
    assert.strictEqual(nearestName("XXL_JOB_EXECUTOR_APP_NAME", known), "XXL_JOB_EXECUTOR_APPNAME")
    assert.strictEqual(nearestName("XXL_JOB_ACCESSTOKEN", known), "XXL_JOB_ACCESS_TOKEN")
    assert.strictEqual(nearestName("XXL_JOB_ADMIN_ADDRESS", known), "XXL_JOB_ADMIN_ADDRESSES")
    assert.strictEqual(nearestName("XXL_JOB_MY_APP_SECRET", known), undefined)
  })
})

describe("ExecutorConfig from a .env file", () => {
  /** Runs `use` with a .env file holding `text`, and takes back every variable it loaded afterwards. */
  const withEnvFile = <A, E>(text: string, use: (path: string) => Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-dotenv-"))
      const path = Path.join(dir, ".env")
      Fs.writeFileSync(path, text)
      const before = new Set(Object.keys(process.env))
      return yield* use(path).pipe(Effect.ensuring(Effect.sync(() => {
        for (const name of Object.keys(process.env)) if (!before.has(name)) delete process.env[name]
        Fs.rmSync(dir, { recursive: true, force: true })
      })))
    })

  it.effect("precedence: the environment, then the .env file, then the code, then the defaults", () =>
    withEnvFile(
      [
        "# comments and quotes as dotenv has them",
        "XXL_JOB_EXECUTOR_APPNAME=from-dotenv",
        "XXL_JOB_EXECUTOR_PORT=\"9123\"",
        "XXL_JOB_EXECUTOR_LOGPATH='/tmp/from-dotenv'",
        "XXL_JOB_TEST_ONLY_FROM_DOTENV=yes"
      ].join("\n"),
      (path) =>
        Effect.gen(function*() {
          process.env.XXL_JOB_EXECUTOR_LOGPATH = "/tmp/from-environment"
          const settings = yield* ExecutorConfig.ExecutorConfig.pipe(
            Effect.provide(ExecutorConfig.layerFromEnv(
              { appName: "from-code", port: 1, queueLimit: 7 },
              { envFile: path }
            ))
          )
          assert.strictEqual(settings.logPath, "/tmp/from-environment")
          assert.strictEqual(settings.appName, "from-dotenv")
          assert.strictEqual(settings.port, 9123)
          assert.strictEqual(settings.queueLimit, 7)
          assert.isTrue(Duration.equals(settings.registryInterval, Duration.seconds(30)))
          // Every variable of the file is loaded, for the jobs and the other libraries too.
          assert.strictEqual(process.env.XXL_JOB_TEST_ONLY_FROM_DOTENV, "yes")
        }).pipe(Effect.ensuring(Effect.sync(() => delete process.env.XXL_JOB_EXECUTOR_LOGPATH)))
    ))

  it.effect("a bad value from the file is refused, naming the variable", () =>
    withEnvFile("XXL_JOB_EXECUTOR_PORT=abc\n", (path) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          ExecutorConfig.ExecutorConfig.pipe(Effect.provide(ExecutorConfig.layerFromEnv({}, { envFile: path })))
        )
        assert.strictEqual(error.message, "XXL_JOB_EXECUTOR_PORT: expected an integer, got \"abc\"")
      })))

  it.effect("a named file must exist; the default .env may be absent", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(ExecutorConfig.loadEnvFile("/nonexistent/.env", { required: true }))
      assert.include(missing.message, "/nonexistent/.env: cannot read the env file")
      assert.deepStrictEqual(yield* ExecutorConfig.loadEnvFile("/nonexistent/.env"), [])
    }))
})
