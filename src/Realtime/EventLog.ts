import { PgClient } from "@effect/sql-pg"
import { Effect, Schema } from "effect"
import { correlationId } from "../Correlation.js"
import { Agent } from "../Domain/Agent.js"
import { WorkStreamEvent } from "../Domain/AgentSession.js"
import type { Bug } from "../Domain/Bug.js"
import { BugSummary, type RealtimeEventName } from "../Domain/Events.js"
import { agentRoom, repoRoom, villageRoom } from "./Events.js"

export const notifyChannel = "bugbots_events"

/** How many rows of the log one read takes (relay passes, replay pages). */
export const logBatchSize = 500

/** The columns of the log as a `LogEntry`. */
export const entryColumns = "id::text as id, event, rooms, correlation_id, data::text as data"

/** What a change publishes; the rooms it goes to are derived here, from what it is about. */
export type Published =
  | { readonly event: "bug_bot_spawn" | "bug_bot_update" | "bug_bot_resolved"; readonly bug: Bug }
  | { readonly event: "work_stream_event"; readonly entry: WorkStreamEvent }
  | { readonly event: "agent_update"; readonly agent: Agent }

const encodeBug = Schema.encodeSync(BugSummary)
const encodeEntry = Schema.encodeSync(WorkStreamEvent)
const encodeAgent = Schema.encodeSync(Agent)

/** The rooms, payload and ordering key of what is published. */
const describe = (published: Published) => {
  switch (published.event) {
    case "work_stream_event":
      return { rooms: [agentRoom(published.entry.agent_id)], data: encodeEntry(published.entry), bugId: null, version: null }
    case "agent_update":
      return { rooms: [villageRoom(published.agent.village_id), agentRoom(published.agent.id)], data: encodeAgent(published.agent), bugId: null, version: null }
    default:
      return {
        rooms: [repoRoom(published.bug.repo_id), villageRoom(published.bug.village_id)],
        data: encodeBug(published.bug),
        bugId: published.bug.id,
        version: published.bug.version
      }
  }
}

/**
 * Appends to the durable event log. Call it inside the transaction of the change it describes:
 * the event commits with the change or not at all. The NOTIFY (sent at commit) carries only the
 * id: a nudge for every instance's relay, which reads the rows itself.
 */
export class EventLog extends Effect.Service<EventLog>()("bugbots/EventLog", {
  effect: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const append = Effect.fn("EventLog.append")(function* (published: Published) {
      const correlation = yield* correlationId
      const entry = describe(published)
      // One round trip: the insert and its NOTIFY together (every change of the service pays it).
      const [row] = yield* sql<{ id: number }>`
        with appended as (
          insert into realtime_events (event, rooms, bug_id, version, correlation_id, data)
          values (${published.event}, string_to_array(${entry.rooms.join(" ")}, ' '), ${entry.bugId}, ${entry.version},
                  ${correlation}, ${sql.json(entry.data)})
          returning id
        )
        select id, pg_notify(${notifyChannel}, id::text) from appended`
      return row.id
    })

    /**
     * For a writer that publishes a change of a row in the statement that makes it (one round trip
     * less): the CTE that appends the event, its payload built by PostgreSQL from `alias` (the
     * changed row) as `data`, and the column expression that sends its NOTIFY at commit. The rooms
     * are the published bug's.
     */
    const appendFromRow = (event: RealtimeEventName, bug: { readonly repo_id: string; readonly village_id: string }, alias: string, data: string, correlation: string | null) => ({
      insert: sql`
        insert into realtime_events (event, rooms, bug_id, version, correlation_id, data)
        select ${event}, string_to_array(${[repoRoom(bug.repo_id), villageRoom(bug.village_id)].join(" ")}, ' '), ${sql.literal(alias)}.id,
               ${sql.literal(alias)}.version, ${correlation}, ${sql.literal(data)}
        from ${sql.literal(alias)} returning id`,
      notify: (logged: string) => sql`pg_notify(${notifyChannel}, ${sql.literal(logged)}.id::text)`
    })

    return { append, appendFromRow } as const
  })
}) {}
