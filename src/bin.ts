#!/usr/bin/env node
/**
 * The `effect-xxl-job` executable: see `Cli`.
 *
 * @since 1.0.0
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as Cli from "./internal/cli.js"

Cli.main(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
