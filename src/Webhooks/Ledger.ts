import { PgClient } from "@effect/sql-pg"
import type { SqlError } from "@effect/sql/SqlError"
import { Chunk, Deferred, Duration, Effect, Exit, Queue, Schema } from "effect"
import { decodeCursor, SeqCursor, toPage } from "../Domain/Page.js"
import { decodeJsonRows, iso, jsonObject } from "../Sql/Json.js"
import { type DeliveryId, type DeliveryStatus, WebhookDelivery } from "../Domain/Webhook.js"

/** The NOTIFY channel that wakes the workers of every instance when deliveries are queued. */
export const deliveriesChannel = "bugbots_webhook_deliveries"

export interface NewDelivery {
  readonly id: DeliveryId
  readonly event: string
  readonly action: string | null
  /** The body exactly as received (already checked to be a JSON object). */
  readonly body: string
  readonly status: "pending" | "ignored"
  readonly requestId: string | null
}

interface PendingInsert {
  readonly delivery: NewDelivery
  readonly stored: Deferred.Deferred<boolean, SqlError>
}

/** Batches written at once, and the most deliveries in one batch. */
const insertWriters = 4
const maxBatch = 64

/** A delivery a worker holds under a lease: only the holder of `lease_token` may settle it. */
export const Claimed = Schema.Struct({
  id: Schema.String,
  event: Schema.String,
  action: Schema.NullOr(Schema.String),
  payload: Schema.Unknown,
  attempts: Schema.Int,
  lease_token: Schema.String
})
export type Claimed = typeof Claimed.Type

const decodeClaimed = Schema.decodeUnknown(Claimed)
const decodeDeliveries = decodeJsonRows(WebhookDelivery)
const decodeDelivery = (row: { readonly json: string }) => decodeDeliveries([row]).pipe(Effect.map(([delivery]) => delivery))
/**
 * The batch as one JSON array for `jsonb_to_recordset`. Bodies are embedded as they are (each was
 * parsed as a JSON object already), so PostgreSQL parses every payload once and nothing re-escapes it.
 */
const recordset = (batch: ReadonlyArray<PendingInsert>) =>
  `[${batch
    .map(({ delivery: d }) =>
      `{"id":${JSON.stringify(d.id)},"event":${JSON.stringify(d.event)},"action":${JSON.stringify(d.action)},` +
      `"status":${JSON.stringify(d.status)},"request_id":${JSON.stringify(d.requestId)},"payload":${storable(d.body)}}`
    )
    .join(",")}]`

/** PostgreSQL's jsonb refuses `\u0000`: stored as U+FFFD (the body's signature was checked before). */
const storable = (json: string) => (json.includes("\\u0000") ? json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, "$1\\ufffd") : json)

/** What the admin endpoints show of a delivery (not the payload), as its wire JSON. */
const listed = `${jsonObject("webhook_deliveries", [
  "id", "event", "action", "status", "attempts", ["next_attempt_at", iso("next_attempt_at")], "last_error", "request_id",
  ["received_at", iso("received_at")], ["processed_at", iso("processed_at")]
])}::text as json`

const interval = (d: Duration.Duration) => `${Math.round(Duration.toMillis(d))} milliseconds`

/** SQL of the delivery ledger; the rules (what to act on, when to retry) live in `Webhooks.ts` and `Worker.ts`. */
export class WebhookLedger extends Effect.Service<WebhookLedger>()("bugbots/WebhookLedger", {
  scoped: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient

    /**
     * Concurrent receivers' deliveries are written together, one statement and one commit per batch
     * (group commit): several times the rate of a commit per delivery, and no later answer at low
     * load since a writer takes whatever is queued as soon as it is free.
     */
    const pending = yield* Queue.unbounded<PendingInsert>()
    const insertBatch = (batch: ReadonlyArray<PendingInsert>) =>
      sql<{ id: string }>`
        insert into webhook_deliveries (id, event, action, payload, status, next_attempt_at, request_id)
        select id, event, action, payload, status, case when status = 'pending' then now() end, request_id
        from jsonb_to_recordset(${recordset(batch)}::jsonb)
             as d(id text, event text, action text, payload jsonb, status text, request_id text)
        on conflict (id) do nothing
        returning id`

    const settleBatch = (batch: ReadonlyArray<PendingInsert>, exit: Exit.Exit<ReadonlyArray<{ readonly id: string }>, SqlError>) => {
      const stored = new Set(Exit.isSuccess(exit) ? exit.value.map((row) => row.id) : [])
      // The same id twice in one batch: the first is stored, the second is its duplicate.
      return Effect.forEach(batch, (p) => Deferred.done(p.stored, Exit.map(exit, () => stored.delete(p.delivery.id))), { discard: true })
    }

    /** A batch that fails is written again one by one, so one unstorable delivery fails alone. */
    const writeBatch = (batch: ReadonlyArray<PendingInsert>): Effect.Effect<void> =>
      Effect.exit(insertBatch(batch)).pipe(
        Effect.flatMap((exit) =>
          Exit.isFailure(exit) && batch.length > 1
            ? Effect.forEach(batch, (p) => writeBatch([p]), { discard: true })
            : settleBatch(batch, exit)
        )
      )
    for (let i = 0; i < insertWriters; i++) {
      yield* Effect.forkScoped(
        Effect.forever(Queue.takeBetween(pending, 1, maxBatch).pipe(Effect.flatMap((batch) => writeBatch(Chunk.toReadonlyArray(batch)))))
      )
    }

    /** Stores the delivery unless its id is known; `false` for a duplicate. */
    const insert = (delivery: NewDelivery) =>
      Effect.gen(function* () {
        const stored = yield* Deferred.make<boolean, SqlError>()
        yield* Queue.offer(pending, { delivery, stored })
        return yield* Deferred.await(stored)
      })

    /**
     * Claims up to `limit` due deliveries (queued, due for a retry, or whose holder's lease ran out)
     * for `lease`: concurrent claimers skip each other's rows. A lease that ran out on the last of
     * `maxAttempts` is not claimed again (see `abandon`).
     */
    const claim = (limit: number, lease: Duration.Duration, maxAttempts: number) =>
      sql`
        update webhook_deliveries
        set status = 'processing', lease_token = gen_random_uuid(), attempts = attempts + 1,
            next_attempt_at = now() + ${interval(lease)}::interval, updated_at = now()
        where id in (
          select id from webhook_deliveries
          where status in ('pending', 'processing') and next_attempt_at <= now()
            and (status = 'pending' or attempts < ${maxAttempts})
          order by next_attempt_at, seq
          limit ${limit}
          for update skip locked)
        returning id, event, action, payload, attempts, lease_token`.pipe(
        Effect.flatMap(Effect.forEach((row) => decodeClaimed(row).pipe(Effect.orDie)))
      )

    /**
     * The first statement of the processing transaction: settles the delivery if the lease is still
     * `claimed`'s (false otherwise, and nothing is applied). The row stays locked until the
     * transaction ends, and a failure later in it rolls the settlement back with everything else:
     * a delivery is applied at most once even when its lease ran out and another worker claimed it.
     */
    const settle = (claimed: Claimed, status: "processed" | "ignored") =>
      sql`
        update webhook_deliveries
        set status = ${status}, processed_at = now(), lease_token = null, next_attempt_at = null, last_error = null, updated_at = now()
        where id = ${claimed.id} and lease_token = ${claimed.lease_token}
        returning id`.pipe(Effect.map((rows) => rows.length > 0))

    /** A failed attempt: back to `pending` after `retryIn`, or dead-lettered (`failed`) when it is null. */
    const fail = (claimed: Claimed, error: string, retryIn: Duration.Duration | null) =>
      sql`
        update webhook_deliveries
        set status = ${retryIn === null ? "failed" : "pending"},
            next_attempt_at = ${retryIn === null ? null : sql`now() + ${interval(retryIn)}::interval`},
            lease_token = null, last_error = ${error}, updated_at = now()
        where id = ${claimed.id} and lease_token = ${claimed.lease_token}`

    /**
     * Dead-letters deliveries whose worker vanished (lease ran out) on every one of `maxAttempts`:
     * a payload that kills the process must not take every instance down in turn, forever.
     */
    const abandon = (maxAttempts: number) =>
      sql`
        update webhook_deliveries
        set status = 'failed', lease_token = null, next_attempt_at = null, updated_at = now(),
            last_error = 'abandoned: the lease ran out on each of its ' || attempts || ' attempts (the worker stopped every time)'
        where status = 'processing' and next_attempt_at <= now() and attempts >= ${maxAttempts}`.pipe(Effect.asVoid)

    /** Claimed rows this instance will not process (it is stopping): due again at once, for anyone. */
    const release = (claims: ReadonlyArray<Claimed>) =>
      claims.length === 0
        ? Effect.void
        : sql`
            update webhook_deliveries set status = 'pending', next_attempt_at = now(), lease_token = null, updated_at = now()
            where lease_token in ${sql.in(claims.map((c) => c.lease_token))}`.pipe(Effect.asVoid)

    /** Queues a settled delivery again with fresh attempts; null when it is unknown or still queued. */
    const requeue = (id: string) =>
      sql`
        update webhook_deliveries
        set status = 'pending', attempts = 0, next_attempt_at = now(), lease_token = null, updated_at = now()
        where id = ${id} and status not in ('pending', 'processing')
        returning ${sql.literal(listed)}`.pipe(
        Effect.flatMap((rows) => (rows.length === 0 ? Effect.succeed(null) : decodeDelivery(rows[0] as { json: string })))
      )

    const find = (id: string) =>
      sql`select ${sql.literal(listed)} from webhook_deliveries where id = ${id}`.pipe(
        Effect.flatMap((rows) => (rows.length === 0 ? Effect.succeed(null) : decodeDelivery(rows[0] as { json: string })))
      )

    /** Newest first, keyed on the arrival order. */
    const list = (statuses: ReadonlyArray<DeliveryStatus> | undefined, limit: number, cursor: string | undefined) =>
      Effect.gen(function* () {
        const after = yield* decodeCursor(cursor, SeqCursor)
        const conds = [sql`true`]
        if (statuses !== undefined && statuses.length > 0) conds.push(sql`status in ${sql.in(statuses)}`)
        if (after !== undefined) conds.push(sql`seq < ${after[0]}`)
        const rows = yield* sql<{ seq: string }>`
          select seq, ${sql.literal(listed)} from webhook_deliveries where ${sql.and(conds)} order by seq desc limit ${limit + 1}`
        const decoded = yield* Effect.forEach(rows, (row) =>
          decodeDelivery(row as unknown as { json: string }).pipe(Effect.map((delivery) => ({ delivery, seq: Number(row.seq) })))
        )
        return toPage(decoded, limit, (r) => r.delivery, (r) => [r.seq])
      })

    return { insert, claim, settle, fail, abandon, release, requeue, find, list } as const
  })
}) {}
