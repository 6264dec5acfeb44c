import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Schedule, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { LeaseLost } from "./Lease.js"

/** How often each instance looks for expired leases: well inside the 5 s the contract allows. */
export const sweepSchedule = Schedule.spaced("1 second")

const sweepBatch = 100

/** Tokens are issued as UUIDs (the column's type): anything else cannot name a lease. */
const isIssued = Schema.is(Schema.UUID)

/**
 * Leases on rows of any table with `id`, `lease_token uuid` and `lease_expires_at timestamptz`
 * columns (bug bots today, outbox actions later). Every time is the database's clock, so all
 * instances agree on when a lease ends; the row's own writer (e.g. `Bugs.mutate`) writes the grant.
 */
export class Leases extends Effect.Service<Leases>()("bugbots/Leases", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const lost = () => new LeaseLost({ message: "the lease is not held: wrong token, released or expired" })

    /** A fresh lease token. */
    const newToken = () => randomUUID()

    /** SQL for the expiry of a lease granted now for `seconds`. */
    const until = (seconds: number) => sql`now() + make_interval(secs => ${seconds})`

    /** Locks the row and checks that `token` names its live lease. */
    const hold = Effect.fn("Leases.hold")(function* (table: string, id: string, token: string) {
      if (!isIssued(token)) return yield* Effect.fail(lost())
      const rows = yield* sql<{ held: boolean }>`
        select coalesce(lease_token = ${token} and lease_expires_at > now(), false) as held
        from ${sql(table)} where id = ${id} for update`
      if (rows.length === 0 || !rows[0].held) return yield* Effect.fail(lost())
    })

    /** Moves the end of a live lease to `seconds` from now; the new expiry. */
    const extend = Effect.fn("Leases.extend")(function* (table: string, id: string, token: string, seconds: number) {
      if (!isIssued(token)) return yield* Effect.fail(lost())
      const rows = yield* sql<{ lease_expires_at: Date }>`
        update ${sql(table)} set lease_expires_at = ${until(seconds)}
        where id = ${id} and lease_token = ${token} and lease_expires_at > now()
        returning lease_expires_at`
      if (rows.length === 0) return yield* Effect.fail(lost())
      return DateTime.unsafeMake(rows[0].lease_expires_at)
    })

    /**
     * One pass over the expired leases of `table`: each row is locked with SKIP LOCKED (so several
     * instances sweep side by side without meeting) and handed to `expire` in its own savepoint.
     */
    const sweepOnce = <E, R>(table: string, expire: (id: string) => Effect.Effect<unknown, E, R>) =>
      sql.withTransaction(
        Effect.gen(function* () {
          const rows = yield* sql<{ id: string }>`
            select id from ${sql(table)} where lease_expires_at <= now()
            order by lease_expires_at limit ${sweepBatch}
            for update skip locked`
          yield* Effect.forEach(
            rows,
            ({ id }) =>
              sql.withTransaction(expire(id)).pipe(
                Effect.catchAllCause((cause) => Effect.logWarning("could not end an expired lease", cause).pipe(Effect.annotateLogs({ table, id })))
              ),
            { discard: true }
          )
          return rows.length
        })
      )

    /** Sweeps `table` on `sweepSchedule` for the life of the scope. */
    const sweeper = <E, R>(table: string, expire: (id: string) => Effect.Effect<unknown, E, R>) =>
      sweepOnce(table, expire).pipe(
        Effect.repeat({ while: (swept) => swept === sweepBatch }),
        Effect.catchAllCause((cause) => Effect.logWarning("lease sweep failed", cause).pipe(Effect.annotateLogs({ table }))),
        Effect.repeat(sweepSchedule),
        Effect.interruptible,
        Effect.forkScoped,
        Effect.asVoid
      )

    return { newToken, until, hold, extend, sweepOnce, sweeper } as const
  })
}) {}
