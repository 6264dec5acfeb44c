import { Effect } from "effect"
import { Forbidden, NotFound } from "../Domain/Errors.js"
import type { AgentId, VillageId } from "../Domain/Ids.js"
import type { VillageRole } from "../Domain/User.js"
import type { Principal } from "./Principal.js"

/**
 * Every permission of contract §3, decided here and nowhere else.
 * - `read`: villages, repos, agents, bugs, events
 * - `manage_village`: village settings and members
 * - `manage_resources`: repos, agents, agent tokens
 * - `triage`: create bugs, assign, change status, notes
 * - `work`: claim/heartbeat/release and work streams (agents only)
 * - `operate_agents`: pause/resume agents
 */
export type Action = "read" | "manage_village" | "manage_resources" | "triage" | "work" | "operate_agents"

const roleGrants: Record<VillageRole, ReadonlyArray<Action>> = {
  admin: ["read", "manage_village", "manage_resources", "triage", "operate_agents"],
  maintainer: ["read", "manage_resources", "triage", "operate_agents"],
  triager: ["read", "triage"],
  operator: ["read", "operate_agents"]
}

export interface Target {
  readonly villageId: VillageId
  /** What the 404 says when the caller may not even see the village. */
  readonly resource: string
  readonly resourceId: string
  /** For bug actions: the agent the bug is assigned to (an agent may act only on its own bugs). */
  readonly assignedAgentId?: AgentId | null
}

/** Whether the principal can see the village at all (else its resources are 404, not 403). */
export const canSee = (principal: Principal, villageId: VillageId) =>
  principal.type === "agent"
    ? principal.village_id === villageId
    : principal.is_superuser || principal.roles.has(villageId)

const allows = (principal: Principal, action: Action, target: Target): boolean => {
  if (principal.type === "agent") {
    if (action === "read" || action === "work") return true
    return action === "triage" && target.assignedAgentId === principal.id
  }
  if (principal.is_superuser) return action !== "work"
  const role = principal.roles.get(target.villageId)
  return role !== undefined && roleGrants[role].includes(action)
}

export const authorize = (principal: Principal, action: Action, target: Target): Effect.Effect<void, NotFound | Forbidden> =>
  !canSee(principal, target.villageId)
    ? Effect.fail(NotFound.of(target.resource, target.resourceId))
    : allows(principal, action, target)
    ? Effect.void
    : Effect.fail(new Forbidden({ message: `not allowed to ${action.replace("_", " ")} on this ${target.resource}` }))

/** Operations reserved to superusers (webhook ledger, admin status): 403 for anyone else. */
export const requireSuperuser = (principal: Principal, what: string): Effect.Effect<void, Forbidden> =>
  principal.type === "user" && principal.is_superuser ? Effect.void : Effect.fail(new Forbidden({ message: `only a superuser can ${what}` }))
