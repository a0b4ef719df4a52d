/**
 * Ports for tests on loopback.
 */
import { Effect } from "effect"
import * as Net from "node:net"

/** A TCP port on 127.0.0.1 that was free a moment ago: nothing listens on it when this gives it. */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const probe = Net.createServer()
  probe.listen(0, "127.0.0.1", () => {
    const { port } = probe.address() as Net.AddressInfo
    probe.close(() => resume(Effect.succeed(port)))
  })
})
