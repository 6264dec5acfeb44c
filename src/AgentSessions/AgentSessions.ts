import { PgClient } from "@effect/sql-pg"
import { Effect, Option } from "effect"
import { Agents } from "../Agents/Agents.js"
import { authorize } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { Bugs } from "../Bugs/Bugs.js"
import { correlationId } from "../Correlation.js"
import { AgentSession, type NewWorkStreamEvent, SessionEnded, WorkStreamEvent } from "../Domain/AgentSession.js"
import { Forbidden, NotFound } from "../Domain/Errors.js"
import type { SessionId, VillageId } from "../Domain/Ids.js"
import { decodeCursor, SeqCursor, toPage } from "../Domain/Page.js"
import { EventLog } from "../Realtime/EventLog.js"
import { decodeJsonRows, iso, jsonObject } from "../Sql/Json.js"
import { withDb } from "../Sql/Retry.js"

const sessionJson = (alias: string) =>
  jsonObject(alias, ["id", "agent_id", ["started_at", iso(`${alias}.started_at`)], ["ended_at", iso(`${alias}.ended_at`)]])
const eventJson = (alias: string) =>
  jsonObject(alias, ["id", "session_id", "agent_id", "bug_id", "type", "message", "data", "correlation_id", ["created_at", iso(`${alias}.created_at`)]])
const decodeSessions = decodeJsonRows(AgentSession)
const decodeEvents = decodeJsonRows(WorkStreamEvent)

/** Contract §7: the one owner of `agent_sessions` and `work_stream_events`, an agent's sessions and work streams. */
export class AgentSessions extends Effect.Service<AgentSessions>()("bugbots/AgentSessions", {
  effect: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const log = yield* EventLog
    const agents = yield* Agents
    const bugs = yield* Bugs
    const sessionSelect = sql.literal(`${sessionJson("s")}::text as json`)
    const session = (rows: ReadonlyArray<{ json: string }>) => decodeSessions(rows).pipe(Effect.map((sessions) => sessions[0]))

    /** The session and the village of its agent (whose members may read it). */
    const find = (id: SessionId) =>
      Effect.gen(function* () {
        const rows = yield* sql<{ json: string }>`select ${sessionSelect} from agent_sessions s where s.id = ${id}`.pipe(withDb)
        if (rows.length === 0) return yield* Effect.fail(NotFound.of("agent session", id))
        const found = yield* session(rows)
        const villageId = yield* agents.villageOf(found.agent_id)
        return { session: found, villageId: Option.getOrThrow(villageId) }
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
      return yield* sql<{ json: string }>`
        with s as (insert into agent_sessions (agent_id) values (${principal.id}) returning *) select ${sessionSelect} from s`.pipe(
        Effect.flatMap(session),
        withDb
      )
    })

    /** Stores the event and broadcasts it to `agent:<id>`, in one transaction. */
    const append = Effect.fn("AgentSessions.append")(function* (principal: Principal, id: SessionId, input: NewWorkStreamEvent) {
      const current = yield* owned(principal, id)
      if (current.ended_at !== null) return yield* Effect.fail(new SessionEnded({ message: `agent session ${id} has ended` }))
      const bugId = input.bug_id ?? null
      if (bugId !== null && principal.type === "agent" && !(yield* bugs.isInVillage(bugId, principal.village_id))) {
        return yield* Effect.fail(NotFound.of("bug", bugId))
      }
      const correlation = yield* correlationId
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const rows = yield* sql<{ json: string }>`
            with e as (
              insert into work_stream_events ${sql.insert({
                session_id: id,
                agent_id: current.agent_id,
                bug_id: bugId,
                type: input.type,
                message: input.message ?? null,
                data: sql.json(input.data ?? {}),
                correlation_id: correlation
              })} returning *)
            select ${sql.literal(eventJson("e"))}::text as json from e`
          const [event] = yield* decodeEvents(rows)
          yield* log.append({ event: "work_stream_event", entry: event })
          return event
        })
      ).pipe(withDb)
    })

    /** Ends the session; ending it again changes nothing. */
    const end = Effect.fn("AgentSessions.end")(function* (principal: Principal, id: SessionId) {
      yield* owned(principal, id)
      return yield* sql<{ json: string }>`
        with s as (update agent_sessions set ended_at = coalesce(ended_at, now()) where id = ${id} returning *)
        select ${sessionSelect} from s`.pipe(Effect.flatMap(session), withDb)
    })

    /** The work stream, oldest first; readable by the village's agents and by users who see the village. */
    const events = Effect.fn("AgentSessions.events")(function* (principal: Principal, id: SessionId, limit: number, cursor: string | undefined) {
      const found = yield* find(id)
      yield* authorize(principal, "read", target(id, found.villageId))
      const after = yield* decodeCursor(cursor, SeqCursor)
      const rows = yield* sql<{ json: string; seq: string }>`
        select ${sql.literal(eventJson("e"))}::text as json, e.seq from work_stream_events e
        where e.session_id = ${id} ${after === undefined ? sql`` : sql`and e.seq > ${after[0]}`}
        order by e.seq limit ${limit + 1}`.pipe(withDb)
      const decoded = yield* decodeEvents(rows)
      return toPage(decoded.map((event, i) => ({ event, seq: Number(rows[i].seq) })), limit, (r) => r.event, (r) => [r.seq])
    })

    return { start, append, end, events } as const
  }),
  dependencies: [EventLog.Default, Agents.Default, Bugs.Default]
}) {}
