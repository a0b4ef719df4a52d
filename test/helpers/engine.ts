/**
 * For tests that look inside the in-process executor: `MockAdmin.layer`'s context holds the engine's parts,
 * which its public type does not name.
 */
import { Effect, Option } from "effect"
import * as Lanes from "../../src/internal/lanes.js"

/** The lanes of the executor the in-process mock admin drives. */
export const lanes = Effect.map(Effect.serviceOption(Lanes.Lanes), Option.getOrThrow)
