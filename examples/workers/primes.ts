/**
 * An isolated job's module (see `Primes` in examples/jobs.ts): it runs in a worker thread of its own, so
 * this CPU-bound loop never blocks the executor, and a kill or a timeout stops it mid-loop.
 */
// In your project: import type { Job } from "effect-xxl-job"
import type { Job } from "../../src/index.js"

/** Counts the primes below `params.below`, the slow way. */
export default async function countPrimes(context: Job.PromiseContext<{ readonly below: number }>) {
  const { below } = context.params
  context.log(`counting the primes below ${below}`)
  let count = 0
  for (let n = 2; n < below; n++) {
    let prime = true
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false
        break
      }
    }
    if (prime) count++
  }
  return `${count} primes below ${below}`
}
