import { PgClient } from "@effect/sql-pg"
import { Effect, Option } from "effect"
import { Auth } from "../Auth/Auth.js"
import { type Action, authorize } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { Agent, type AgentState, type CreateAgent, CreatedAgent } from "../Domain/Agent.js"
import type { AgentRef } from "../Domain/BugLifecycle.js"
import { Conflict, NotFound } from "../Domain/Errors.js"
import type { AgentId, VillageId } from "../Domain/Ids.js"
import { EventLog } from "../Realtime/EventLog.js"
import { decodeJsonRows, iso, jsonObject } from "../Sql/Json.js"
import { pageByCreation } from "../Sql/Keyset.js"
import { withDb } from "../Sql/Retry.js"
import { uniqueViolation } from "../Sql/Unique.js"
import { Villages } from "../Villages/Villages.js"

const agentJson = (alias: string) =>
  jsonObject(alias, [
    "id", "village_id", "name", "kind", "config", "state", ["created_at", iso(`${alias}.created_at`)], ["updated_at", iso(`${alias}.updated_at`)]
  ])
const decodeAgents = decodeJsonRows(Agent)

/** The one owner of `agents`: creation, tokens, pause/resume (contract §3–4). */
export class Agents extends Effect.Service<Agents>()("bugbots/Agents", {
  effect: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const auth = yield* Auth
    const villages = yield* Villages
    const log = yield* EventLog
    const agentSelect = sql.literal(`${agentJson("a")}::text as json`)
    const first = (rows: ReadonlyArray<{ json: string }>) => decodeAgents(rows).pipe(Effect.map((agents) => Option.fromNullable(agents[0])))

    const lookup = (id: AgentId) => sql<{ json: string }>`select ${agentSelect} from agents a where a.id = ${id}`.pipe(Effect.flatMap(first), withDb)

    /** The agent, or 404. */
    const find = (id: AgentId) =>
      lookup(id).pipe(Effect.flatMap(Option.match({ onNone: () => Effect.fail(NotFound.of("agent", id)), onSome: Effect.succeed })))

    /** What the lifecycle rules need of an agent, if it exists. */
    const ref = (id: AgentId) =>
      sql<AgentRef>`select id, village_id from agents where id = ${id}`.pipe(withDb, Effect.map((rows) => Option.fromNullable(rows[0])))

    /** The agent, if the principal may do `action` on it (404 when it cannot see the village). */
    const authorized = (principal: Principal, action: Action, id: AgentId) =>
      find(id).pipe(Effect.tap((agent) => authorize(principal, action, { villageId: agent.village_id, resource: "agent", resourceId: id })))

    const create = Effect.fn("Agents.create")(function* (principal: Principal, villageId: VillageId, input: CreateAgent) {
      yield* authorize(principal, "manage_resources", { villageId, resource: "village", resourceId: villageId })
      yield* villages.find(villageId)
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const rows = yield* sql<{ json: string }>`
            with a as (insert into agents ${sql.insert({ village_id: villageId, name: input.name, kind: input.kind, config: sql.json(input.config) })} returning *)
            select ${agentSelect} from a`
          const agent = Option.getOrThrow(yield* first(rows))
          const issued = yield* auth.issue({ agent_id: agent.id }, "initial")
          return new CreatedAgent({ agent, token: issued.token })
        })
      ).pipe(uniqueViolation(() => new Conflict({ message: `agent ${input.name} exists already in this village` })), withDb)
    })

    const list = Effect.fn("Agents.list")(function* (principal: Principal, villageId: VillageId, limit: number, cursor: string | undefined) {
      yield* villages.get(principal, villageId)
      return yield* pageByCreation(Agent, "agents", agentJson("t"), sql`t.village_id = ${villageId}`, limit, cursor)
    })

    const createToken = Effect.fn("Agents.createToken")(function* (principal: Principal, id: AgentId) {
      yield* authorized(principal, "manage_resources", id)
      return yield* auth.issue({ agent_id: id }, "api").pipe(withDb)
    })

    /** Pausing or resuming; the change and its `agent_update` event commit together. */
    const setState = Effect.fn("Agents.setState")(function* (principal: Principal, id: AgentId, state: AgentState) {
      const agent = yield* authorized(principal, "operate_agents", id)
      if (agent.state === state) return agent
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const rows = yield* sql<{ json: string }>`
            with a as (update agents set state = ${state}, updated_at = now() where id = ${id} returning *)
            select ${agentSelect} from a`
          const updated = Option.getOrThrow(yield* first(rows))
          yield* log.append({ event: "agent_update", agent: updated })
          return updated
        })
      ).pipe(withDb, Effect.tap(() => auth.principalsChanged))
    })

    /** The village an agent works in, if the agent exists. */
    const villageOf = (id: AgentId) => ref(id).pipe(Effect.map(Option.map((agent) => agent.village_id)))

    /** An agent of the village with this name, made when missing (for demo data). */
    const ensure = (villageId: VillageId, name: string, kind: string | null) =>
      sql<{ id: AgentId }>`
        insert into agents (village_id, name, kind) values (${villageId}, ${name}, ${kind})
        on conflict (village_id, name) do update set kind = excluded.kind returning id`.pipe(Effect.map((rows) => rows[0].id))

    return { find, ref, create, list, createToken, setState, villageOf, ensure } as const
  }),
  dependencies: [Auth.Default, Villages.Default, EventLog.Default]
}) {}
