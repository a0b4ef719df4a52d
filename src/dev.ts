/**
 * `effect-xxl-job/dev`: the development admin, a small scheduler that triggers your executors with no Java and
 * no database.
 *
 * @since 1.0.0
 */

/** @since 1.0.0 */
export * as DevAdmin from "./DevAdmin.js"
