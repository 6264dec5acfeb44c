import { PgClient } from "@effect/sql-pg"
import { Effect, Schema } from "effect"
import { correlationId } from "../Correlation.js"
import { RealtimeEvent, type RealtimeEventName } from "./Events.js"

export const notifyChannel = "bugbots_events"

/** How many rows of the log one read takes (relay passes, replay pages). */
export const logBatchSize = 500

const EventRows = Schema.Array(Schema.Struct({
  id: Schema.String,
  event: RealtimeEvent.fields.event,
  rooms: Schema.Array(Schema.String),
  correlation_id: Schema.NullOr(Schema.String),
  data: Schema.Unknown
}))
const decodeRows = Schema.decodeUnknown(EventRows)

/** Rows of `select id::text as id, event, rooms, correlation_id, data from realtime_events`. */
export const decodeEvents = (rows: ReadonlyArray<unknown>) =>
  decodeRows(rows).pipe(
    Effect.map((decoded) => decoded.map((row) => new RealtimeEvent(row))),
    Effect.orDie
  )

export interface Append {
  readonly event: RealtimeEventName
  readonly rooms: ReadonlyArray<string>
  readonly data: unknown
  readonly bugId?: string
  readonly version?: number
}

/**
 * Appends to the durable event log. Call it inside the transaction of the change it describes:
 * the event commits with the change or not at all. The NOTIFY (sent at commit) carries only the
 * id: a nudge for every instance's relay, which reads the rows itself.
 */
export class EventLog extends Effect.Service<EventLog>()("bugbots/EventLog", {
  effect: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const append = Effect.fn("EventLog.append")(function* (entry: Append) {
      const correlation = yield* correlationId
      // One round trip: the insert and its NOTIFY together (every change of the service pays it).
      const [row] = yield* sql<{ id: number }>`
        with appended as (
          insert into realtime_events (event, rooms, bug_id, version, correlation_id, data)
          values (${entry.event}, string_to_array(${entry.rooms.join(" ")}, ' '), ${entry.bugId ?? null}, ${entry.version ?? null},
                  ${correlation}, ${sql.json(entry.data)})
          returning id
        )
        select id, pg_notify(${notifyChannel}, id::text) from appended`
      return row.id
    })
    return { append } as const
  })
}) {}
