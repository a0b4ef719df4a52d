/**
 * `effect-xxl-job/testing`: the mock admin, for testing your jobs in process or over HTTP, against an admin
 * that can be made to fail on demand.
 *
 * @since 1.0.0
 */

/** @since 1.0.0 */
export * as MockAdmin from "./MockAdmin.js"
