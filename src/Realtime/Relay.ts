import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Layer, Queue, Schedule, Stream } from "effect"
import { AppConfig } from "../Config.js"
import { entryColumns, logBatchSize, notifyChannel } from "./EventLog.js"
import type { LogEntry } from "./Events.js"
import { EventHub } from "./EventHub.js"

/** How the relay waits out a lost LISTEN connection before listening again (the poll covers the gap). */
const relisten = Schedule.exponential("200 millis").pipe(
  Schedule.modifyDelay((d) => Duration.min(d, Duration.seconds(5))),
  Schedule.jittered
)

/**
 * The one reader of the log in this instance: it hands every settled event, in id order, to the
 * `EventHub`. A NOTIFY (payload: the id) nudges it; a short poll covers lost notifications.
 *
 * No gap over sequence ids: a transaction takes its id when it inserts, but transactions commit
 * in any order, so id 7 can be visible while id 6 is still in flight (or will roll back). The relay
 * hands out ids strictly in order and stops at a hole. There it notes which transactions are
 * writing to the log (each holds RowExclusiveLock on it until it ends); the one holding a missing
 * id is among them, since it took the lock before its id, and its id before the later ids we see.
 * Once all of them have ended, every id still missing below the next present one rolled back (or
 * was never used) and is skipped. This waits only for writers of this table, not for unrelated
 * long transactions. The start position is settled the same way before anyone may subscribe.
 */
export const RelayLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const hub = yield* EventHub
    const config = yield* AppConfig
    const nudges = yield* Queue.sliding<void>(1)

    /** The transactions that have written to the log and not ended yet (their RowExclusiveLock stays until then). */
    const writers = sql<{ writers: ReadonlyArray<string> }>`
      select coalesce(array_agg(virtualtransaction), '{}') as writers from pg_locks
      where locktype = 'relation' and relation = 'realtime_events'::regclass and mode = 'RowExclusiveLock'`.pipe(
      Effect.map(([row]) => row.writers)
    )
    const ended = (those: ReadonlyArray<string>) =>
      those.length === 0
        ? Effect.succeed(true)
        : sql<{ ended: boolean }>`
            select not exists (
              select 1 from pg_locks
              where locktype = 'relation' and relation = 'realtime_events'::regclass and mode = 'RowExclusiveLock'
                and virtualtransaction = any(${those})
            ) as ended`.pipe(Effect.map(([row]) => row.ended))

    let last = 0
    /** Every id at or below this is settled: present in the log, or never will be. */
    let settled = 0
    let hole: { readonly below: number; readonly writers: ReadonlyArray<string> } | undefined

    const startAt = Effect.gen(function* () {
      const [row] = yield* sql<{ id: string }>`select coalesce(max(id), 0)::text as id from realtime_events`
      const inFlight = yield* writers
      yield* ended(inFlight).pipe(Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (done) => done }))
      last = Number(row.id)
      settled = last
      yield* hub.start(last)
      yield* Effect.logDebug("realtime relay started").pipe(Effect.annotateLogs("position", last))
    })

    /** One pass: hands out what is settled; true when a full batch suggests more is waiting. */
    const pass = Effect.gen(function* () {
      if (hole !== undefined && last >= hole.below) hole = undefined
      if (hole !== undefined && (yield* ended(hole.writers))) {
        settled = Math.max(settled, hole.below - 1)
        hole = undefined
      }
      const rows = yield* sql<LogEntry>`
        select ${sql.literal(entryColumns)} from realtime_events
        where id > ${last} order by realtime_events.id limit ${logBatchSize}`
      for (const row of rows) {
        const id = Number(row.id)
        if (id > Math.max(last, settled) + 1) {
          if (hole === undefined) hole = { below: id, writers: yield* writers }
          return false
        }
        yield* hub.publish(row)
        last = id
      }
      return rows.length === logBatchSize
    })

    const drain: Effect.Effect<void> = pass.pipe(
      Effect.flatMap((more) => (more ? drain : Effect.void)),
      Effect.catchAllCause((cause) => Effect.logWarning("realtime relay pass failed; retrying on the next poll", cause))
    )

    const listen = sql.listen(notifyChannel).pipe(
      Stream.runForEach(() => Queue.offer(nudges, undefined)),
      Effect.retry(relisten),
      Effect.catchAllCause((cause) => Effect.logWarning("realtime relay stopped listening; polling only", cause))
    )

    const loop = Queue.take(nudges).pipe(
      Effect.timeoutOption(config.relayPollInterval),
      Effect.zipRight(drain),
      Effect.forever
    )

    yield* Effect.forkScoped(listen)
    yield* startAt.pipe(
      Effect.retry(relisten),
      Effect.zipRight(loop),
      Effect.forkScoped
    )
  })
)
