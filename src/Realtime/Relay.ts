import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Layer, Queue, Schedule, Stream } from "effect"
import { AppConfig } from "../Config.js"
import { decodeEvents, logBatchSize, notifyChannel } from "./EventLog.js"
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
 * No gap over sequence ids: ids are taken when a transaction inserts, but transactions commit in
 * any order, so id 7 can be visible while id 6 is still in flight (or will roll back). The relay
 * hands out ids strictly in order and stops at a hole. At a hole it notes the snapshot's xmax;
 * every transaction that could still commit the missing ids holds an xid below it (`EventLog.append`
 * takes its xid before its id), so once the oldest transaction in flight is at or past that xmax,
 * whatever is still missing below the next present id rolled back (or was never used) and is
 * skipped. The start position is settled the same way before anyone may subscribe.
 */
export const RelayLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const hub = yield* EventHub
    const config = yield* AppConfig
    const nudges = yield* Queue.sliding<void>(1)

    const xmax = sql<{ xmax: string }>`select pg_snapshot_xmax(pg_current_snapshot())::text as xmax`.pipe(
      Effect.map(([row]) => row.xmax)
    )
    const passed = (mark: string) =>
      sql<{ passed: boolean }>`select pg_snapshot_xmin(pg_current_snapshot()) >= ${mark}::xid8 as passed`.pipe(
        Effect.map(([row]) => row.passed)
      )

    let last = 0
    /** Every id at or below this is settled: present in the log, or never will be. */
    let settled = 0
    let hole: { readonly below: number; readonly mark: string } | undefined

    const startAt = Effect.gen(function* () {
      const [row] = yield* sql<{ id: string; xmax: string }>`
        select coalesce(max(id), 0)::text as id, pg_snapshot_xmax(pg_current_snapshot())::text as xmax from realtime_events`
      yield* passed(row.xmax).pipe(
        Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (ok) => ok })
      )
      last = Number(row.id)
      settled = last
      yield* hub.start(last)
      yield* Effect.logDebug("realtime relay started").pipe(Effect.annotateLogs("position", last))
    })

    /** One pass: hands out what is settled; true when a full batch suggests more is waiting. */
    const pass = Effect.gen(function* () {
      if (hole !== undefined && last >= hole.below) hole = undefined
      if (hole !== undefined && (yield* passed(hole.mark))) {
        settled = Math.max(settled, hole.below - 1)
        hole = undefined
      }
      const rows = yield* sql`
        select id::text as id, event, rooms, correlation_id, data from realtime_events
        where id > ${last} order by id limit ${logBatchSize}`.pipe(Effect.flatMap(decodeEvents))
      for (const row of rows) {
        const id = Number(row.id)
        if (id !== last + 1 && id > settled) {
          if (hole === undefined) hole = { below: id, mark: yield* xmax }
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
