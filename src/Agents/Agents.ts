import { PgClient } from "@effect/sql-pg"
import { Effect, Schema } from "effect"
import { Auth } from "../Auth/Auth.js"
import { authorize, type Action } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { Agent, type AgentState } from "../Domain/Agent.js"
import { Conflict, NotFound } from "../Domain/Errors.js"
import type { AgentId, VillageId } from "../Domain/Ids.js"
import { EventLog } from "../Realtime/EventLog.js"
import { agentRoom, villageRoom } from "../Realtime/Events.js"
import { pageByCreation } from "../Sql/Keyset.js"
import { withDb } from "../Sql/Retry.js"
import { uniqueViolation } from "../Sql/Unique.js"
import { Villages } from "../Villages/Villages.js"
import { CreatedAgent } from "./Api.js"

const decodeAgent = Schema.decodeUnknown(Agent)
const encodeAgent = Schema.encodeSync(Agent.json)

/** Agents of a village: creation, tokens, pause/resume (contract §3–4). */
export class Agents extends Effect.Service<Agents>()("bugbots/Agents", {
  effect: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const auth = yield* Auth
    const villages = yield* Villages
    const log = yield* EventLog

    const find = (id: AgentId) =>
      sql`select * from agents where id = ${id}`.pipe(
        withDb,
        Effect.flatMap((rows) => (rows.length === 0 ? Effect.fail(NotFound.of("agent", id)) : decodeAgent(rows[0]).pipe(Effect.orDie)))
      )

    /** The agent, if the principal may do `action` on it (404 when it cannot see the village). */
    const authorized = (principal: Principal, action: Action, id: AgentId) =>
      find(id).pipe(
        Effect.tap((agent) => authorize(principal, action, { villageId: agent.village_id, resource: "agent", resourceId: id }))
      )

    const create = Effect.fn("Agents.create")(function* (
      principal: Principal,
      villageId: VillageId,
      input: { readonly name: string; readonly kind: string | null; readonly config: Record<string, unknown> }
    ) {
      yield* authorize(principal, "manage_resources", { villageId, resource: "village", resourceId: villageId })
      yield* villages.find(villageId)
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const [row] = yield* sql`insert into agents ${sql.insert({ village_id: villageId, name: input.name, kind: input.kind, config: sql.json(input.config) })} returning *`
          const agent = yield* decodeAgent(row).pipe(Effect.orDie)
          const issued = yield* auth.issue({ agent_id: agent.id }, "initial")
          return new CreatedAgent({ agent, token: issued.token })
        })
      ).pipe(uniqueViolation(() => new Conflict({ message: `agent ${input.name} exists already in this village` })), withDb)
    })

    const list = Effect.fn("Agents.list")(function* (principal: Principal, villageId: VillageId, limit: number, cursor: string | undefined) {
      yield* villages.get(principal, villageId)
      return yield* pageByCreation(Agent, "agents", sql`village_id = ${villageId}`, limit, cursor)
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
          const [row] = yield* sql`update agents set state = ${state}, updated_at = now() where id = ${id} returning *`
          const updated = yield* decodeAgent(row).pipe(Effect.orDie)
          yield* log.append({ event: "agent_update", rooms: [villageRoom(updated.village_id), agentRoom(updated.id)], data: encodeAgent(updated) })
          return updated
        })
      ).pipe(withDb)
    })

    return { find, create, list, createToken, setState } as const
  }),
  dependencies: [Auth.Default, Villages.Default, EventLog.Default]
}) {}
