import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // The executors under test log to stdout; show that only for the tests that fail.
    silent: "passed-only"
  }
})
