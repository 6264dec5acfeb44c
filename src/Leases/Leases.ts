import { Effect, Schedule, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { LeaseLost } from "../Domain/Lease.js"

/**
 * The one lease model, for every leased row (bug bots under an agent's claim, jobs under a worker's):
 * a lease is a token and an expiry on the row itself; every time is the database's clock, so all
 * instances agree on when a lease ends. The row's owner writes and checks it in its own SQL, with
 * these rules; expired leases are swept by `sweeper` on every instance (`FOR UPDATE SKIP LOCKED`
 * lets them sweep side by side).
 */

/** A fresh lease token (opaque to clients). */
export const newLeaseToken = () => randomUUID()

/** Tokens are issued as UUIDs (the columns' type): anything else cannot name a lease. */
export const isIssued = Schema.is(Schema.UUID)

export const leaseLost = () => new LeaseLost({ message: "the lease is not held: wrong token, released or expired" })

/** How often each instance looks for expired leases: well inside the 5 s the contract allows. */
export const sweepSchedule = Schedule.spaced("1 second")

/**
 * Runs `sweepOnce` (which ends up to `batch` expired leases and says how many) on `sweepSchedule`,
 * again at once while batches come back full, for the life of the scope.
 */
export const sweeper = <E, R>(what: string, batch: number, sweepOnce: Effect.Effect<number, E, R>) =>
  sweepOnce.pipe(
    Effect.repeat({ while: (swept) => swept === batch }),
    Effect.catchAllCause((cause) => Effect.logWarning("lease sweep failed", cause).pipe(Effect.annotateLogs({ leases: what }))),
    Effect.repeat(sweepSchedule),
    Effect.interruptible,
    Effect.forkScoped,
    Effect.asVoid
  )
