import { Context, Effect } from "effect"
import type { AgentState } from "../Domain/Agent.js"
import type { AgentId, UserId, VillageId } from "../Domain/Ids.js"
import type { VillageRole } from "../Domain/User.js"

export interface UserPrincipal {
  readonly type: "user"
  readonly id: UserId
  readonly login: string
  readonly is_superuser: boolean
  readonly roles: ReadonlyMap<VillageId, VillageRole>
}

export interface AgentPrincipal {
  readonly type: "agent"
  readonly id: AgentId
  readonly name: string
  readonly village_id: VillageId
  readonly state: AgentState
}

export type Principal = UserPrincipal | AgentPrincipal

/** The authenticated caller of the current request (REST, WebSocket or RPC). */
export class CurrentPrincipal extends Context.Tag("bugbots/CurrentPrincipal")<CurrentPrincipal, Principal>() {}

/** Runs `f` with the principal of the current request (REST handlers, RPC handlers). */
export const asPrincipal = <A, E, R>(f: (principal: Principal) => Effect.Effect<A, E, R>) => Effect.flatMap(CurrentPrincipal, f)
