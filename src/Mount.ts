/**
 * The executor inside a server you already run, for teams that cannot open another port: its endpoints as a
 * Node request handler (plain `node:http`, Express, Connect and what builds on them) and as a web handler
 * (`Request` in, `Response` out: Hono, Next.js route handlers, Bun, Deno).
 *
 * The endpoints live under the path of the address registered with the admin (`XXL_JOB_EXECUTOR_ADDRESS`,
 * required here: the executor cannot know where the host server is reachable). With
 * `http://10.0.0.5:3000/xxl-job/`, the admin posts to `/xxl-job/run`, `/xxl-job/beat`…; other paths are
 * passed on (`next()`) or answered 404. They answer exactly as the executor's own server does.
 * `Executor.layerMounted` provides them.
 *
 * @example
 * ```ts
 * import express from "express"
 * import { Layer, ManagedRuntime } from "effect"
 * import { Executor, ExecutorConfig, Job, Mount } from "effect-xxl-job"
 *
 * declare const jobs: Job.Registry
 * const runtime = ManagedRuntime.make(
 *   Executor.layerMounted(jobs).pipe(Layer.provide(ExecutorConfig.layer({
 *     appName: "my-app",
 *     adminAddresses: "http://admin:8080/xxl-job-admin",
 *     address: "http://10.0.0.5:3000/xxl-job/"
 *   })))
 * )
 * const { node } = await runtime.runPromise(Mount.Mount)
 * express().use(node).listen(3000)
 * ```
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import type * as Http from "node:http"

/**
 * @since 1.0.0
 * @category models
 */
export interface Handlers {
  /**
   * A Node request handler and Connect/Express middleware: requests under `basePath` are answered, others go
   * to `next` (or get a 404 without one). Mount it before any body parser; a body already parsed into
   * `request.body` is taken from there.
   */
  readonly node: (
    request: Http.IncomingMessage,
    response: Http.ServerResponse,
    next?: (error?: unknown) => void
  ) => void
  /** A web handler: the answer for a request under `basePath`, a 404 for any other. */
  readonly web: (request: Request) => Promise<Response>
  /** The path the endpoints live under, from the registered address (`""` for the root). */
  readonly basePath: string
}

/**
 * @since 1.0.0
 * @category tags
 */
export class Mount extends Context.Tag("effect-xxl-job/Mount")<Mount, Handlers>() {}
