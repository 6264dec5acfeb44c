import { PgClient } from "@effect/sql-pg"
import { Effect, Schema } from "effect"
import { authorize } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { correlationId } from "../Correlation.js"
import { Forbidden, NotFound } from "../Domain/Errors.js"
import { type SessionId, VillageId } from "../Domain/Ids.js"
import { decodeCursor, SeqCursor, toPage } from "../Domain/Page.js"
import { EventLog } from "../Realtime/EventLog.js"
import { agentRoom } from "../Realtime/Events.js"
import { withDb } from "../Sql/Retry.js"
import { AgentSession, type NewWorkStreamEvent, SessionEnded, WorkStreamEvent } from "./AgentSession.js"

const decodeSession = Schema.decodeUnknown(AgentSession)
const decodeEvent = Schema.decodeUnknown(WorkStreamEvent)
const encodeEvent = Schema.encodeSync(WorkStreamEvent.json)
const decodeVillageId = Schema.decodeUnknown(VillageId)

/** Contract §7: an agent's sessions and the work stream it logs in them. */
export class AgentSessions extends Effect.Service<AgentSessions>()("bugbots/AgentSessions", {
  effect: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const log = yield* EventLog

    /** The session and the village of its agent (whose members may read it). */
    const find = (id: SessionId) =>
      Effect.gen(function* () {
        const rows = yield* sql`
          select s.*, a.village_id from agent_sessions s join agents a on a.id = s.agent_id where s.id = ${id}`.pipe(withDb)
        if (rows.length === 0) return yield* Effect.fail(NotFound.of("agent session", id))
        const session = yield* decodeSession(rows[0]).pipe(Effect.orDie)
        const villageId = yield* decodeVillageId(rows[0].village_id).pipe(Effect.orDie)
        return { session, villageId }
      })

    const target = (id: SessionId, villageId: VillageId) => ({ villageId, resource: "agent session", resourceId: id })

    /** Only the session's own agent writes to it. */
    const owned = Effect.fn("AgentSessions.owned")(function* (principal: Principal, id: SessionId) {
      const found = yield* find(id)
      yield* authorize(principal, "work", target(id, found.villageId))
      if (principal.id !== found.session.agent_id) {
        return yield* Effect.fail(new Forbidden({ message: "only the session's agent writes to its work stream" }))
      }
      return found.session
    })

    const start = Effect.fn("AgentSessions.start")(function* (principal: Principal) {
      if (principal.type !== "agent") return yield* Effect.fail(new Forbidden({ message: "only agents open sessions" }))
      const [row] = yield* sql`insert into agent_sessions (agent_id) values (${principal.id}) returning *`.pipe(withDb)
      return yield* decodeSession(row).pipe(Effect.orDie)
    })

    /** Stores the event and broadcasts it to `agent:<id>`, in one transaction. */
    const append = Effect.fn("AgentSessions.append")(function* (principal: Principal, id: SessionId, input: NewWorkStreamEvent) {
      const session = yield* owned(principal, id)
      if (session.ended_at !== null) return yield* Effect.fail(new SessionEnded({ message: `agent session ${id} has ended` }))
      const bugId = input.bug_id ?? null
      if (bugId !== null && principal.type === "agent") {
        const bug = yield* sql`select 1 from bug_bots where id = ${bugId} and village_id = ${principal.village_id}`.pipe(withDb)
        if (bug.length === 0) return yield* Effect.fail(NotFound.of("bug", bugId))
      }
      const correlation = yield* correlationId
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const [row] = yield* sql`
            insert into work_stream_events ${sql.insert({
              session_id: id,
              agent_id: session.agent_id,
              bug_id: bugId,
              type: input.type,
              message: input.message ?? null,
              data: sql.json(input.data ?? {}),
              correlation_id: correlation
            })} returning *`
          const event = yield* decodeEvent(row).pipe(Effect.orDie)
          yield* log.append({ event: "work_stream_event", rooms: [agentRoom(session.agent_id)], data: encodeEvent(event) })
          return event
        })
      ).pipe(withDb)
    })

    /** Ends the session; ending it again changes nothing. */
    const end = Effect.fn("AgentSessions.end")(function* (principal: Principal, id: SessionId) {
      yield* owned(principal, id)
      const [row] = yield* sql`
        update agent_sessions set ended_at = coalesce(ended_at, now()) where id = ${id} returning *`.pipe(withDb)
      return yield* decodeSession(row).pipe(Effect.orDie)
    })

    /** The work stream, oldest first; readable by the village's agents and by users who see the village. */
    const events = Effect.fn("AgentSessions.events")(function* (principal: Principal, id: SessionId, limit: number, cursor: string | undefined) {
      const found = yield* find(id)
      yield* authorize(principal, "read", target(id, found.villageId))
      const after = yield* decodeCursor(cursor, SeqCursor)
      const rows = yield* sql<{ seq: string }>`
        select * from work_stream_events
        where session_id = ${id} ${after === undefined ? sql`` : sql`and seq > ${after[0]}`}
        order by seq limit ${limit + 1}`.pipe(withDb)
      const decoded = yield* Effect.forEach(rows, (row) =>
        decodeEvent(row).pipe(Effect.orDie, Effect.map((event) => ({ event, seq: Number(row.seq) })))
      )
      return toPage(decoded, limit, (r) => r.event, (r) => [r.seq])
    })

    return { start, append, end, events } as const
  }),
  dependencies: [EventLog.Default]
}) {}
