import { Rpc, RpcGroup, RpcMiddleware } from "@effect/rpc"
import { Schema } from "effect"
import { NewWorkStreamEvent, AgentSession, SessionEnded, WorkStreamEvent } from "../AgentSessions/AgentSession.js"
import { Claimed, ClaimRequest, HeartbeatRequest, LeaseRenewed, ReleaseRequest } from "../AgentWork/Api.js"
import { CurrentPrincipal } from "../Auth/Principal.js"
import { AddNote, AssignBug, ChangeStatus } from "../Bugs/Api.js"
import { BugSort } from "../Bugs/BugsRepo.js"
import { AgentPaused } from "../Domain/Agent.js"
import {
  AgentNotInVillage,
  AgentRequired,
  Bug,
  BugEvent,
  BugStatus,
  InvalidTransition,
  Severity,
  Source,
  VersionConflict
} from "../Domain/Bug.js"
import { Forbidden, NotFound, ServiceUnavailable, Unauthenticated, ValidationFailed } from "../Domain/Errors.js"
import { AgentId, BugId, RepoId, SessionId, VillageId } from "../Domain/Ids.js"
import { Text } from "../Domain/Fields.js"
import { Page } from "../Domain/Page.js"
import { LeaseLost } from "../Leases/Lease.js"
import { RealtimeEvent } from "../Realtime/Events.js"

/**
 * RPC authentication: the bearer token of the request (HTTP) or of the WebSocket handshake, checked
 * by the same `Auth.authenticate` as REST; provides `CurrentPrincipal` to every handler.
 */
export class RpcAuthentication extends RpcMiddleware.Tag<RpcAuthentication>()("bugbots/RpcAuthentication", {
  provides: CurrentPrincipal,
  failure: Schema.Union(Unauthenticated, ServiceUnavailable),
  wrap: true
}) {}

const BugRef = { id: BugId }

export const ListBugsRequest = Schema.Struct({
  village_id: VillageId,
  status: Schema.optional(Schema.Array(BugStatus)),
  repo_id: Schema.optional(RepoId),
  assigned_agent_id: Schema.optional(AgentId),
  severity: Schema.optional(Severity),
  source: Schema.optional(Source),
  sort: Schema.optionalWith(BugSort, { default: () => "-created_at" as const }),
  limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 200)), { default: () => 50 }),
  cursor: Schema.optional(Text(1000))
})

/**
 * Contract §8: the agent-facing surface over Effect RPC, with the same services, permissions and
 * errors as REST. Every call may also fail with `Unauthenticated` or `ServiceUnavailable` (the
 * middleware's failures).
 */
export class BugbotsRpcs extends RpcGroup.make(
  Rpc.make("ListBugs", {
    payload: ListBugsRequest.fields,
    success: Page(Bug.json),
    error: Schema.Union(NotFound, Forbidden, ValidationFailed, ServiceUnavailable)
  }),
  Rpc.make("GetBug", { payload: BugRef, success: Bug.json, error: Schema.Union(NotFound, Forbidden, ServiceUnavailable) }),
  Rpc.make("AssignBug", {
    payload: { ...BugRef, ...AssignBug.fields },
    success: Bug.json,
    error: Schema.Union(NotFound, Forbidden, AgentNotInVillage, ServiceUnavailable)
  }),
  Rpc.make("ChangeStatus", {
    payload: { ...BugRef, ...ChangeStatus.fields },
    success: Bug.json,
    error: Schema.Union(NotFound, Forbidden, VersionConflict, InvalidTransition, AgentRequired, AgentNotInVillage, LeaseLost, ServiceUnavailable)
  }),
  Rpc.make("AddNote", {
    payload: { ...BugRef, ...AddNote.fields },
    success: BugEvent.json,
    error: Schema.Union(NotFound, Forbidden, LeaseLost, ServiceUnavailable)
  }),
  Rpc.make("Claim", {
    payload: ClaimRequest.fields,
    success: Schema.NullOr(Claimed).annotations({ description: "null when nothing is claimable" }),
    error: Schema.Union(Forbidden, NotFound, AgentPaused, ServiceUnavailable)
  }),
  Rpc.make("Heartbeat", {
    payload: { ...BugRef, ...HeartbeatRequest.fields },
    success: LeaseRenewed,
    error: Schema.Union(NotFound, Forbidden, LeaseLost, ServiceUnavailable)
  }),
  Rpc.make("Release", {
    payload: { ...BugRef, ...ReleaseRequest.fields },
    success: Bug.json,
    error: Schema.Union(NotFound, Forbidden, LeaseLost, ServiceUnavailable)
  }),
  Rpc.make("StartSession", { success: AgentSession.json, error: Schema.Union(Forbidden, ServiceUnavailable) }),
  Rpc.make("LogWork", {
    payload: { session_id: SessionId, ...NewWorkStreamEvent.fields },
    success: WorkStreamEvent.json,
    error: Schema.Union(NotFound, Forbidden, SessionEnded, ServiceUnavailable)
  }),
  Rpc.make("EndSession", {
    payload: { session_id: SessionId },
    success: AgentSession.json,
    error: Schema.Union(NotFound, Forbidden, ServiceUnavailable)
  }),
  Rpc.make("WatchRoom", {
    payload: {
      room: Text(200).annotations({ description: "village:<id>, repo:<id> or agent:<id>" }),
      since: Schema.optional(Text(20).annotations({ description: "an event id: replay what came after it, then go live" }))
    },
    success: RealtimeEvent,
    error: Schema.Union(NotFound, Forbidden, ValidationFailed, ServiceUnavailable),
    stream: true
  })
).middleware(RpcAuthentication) {}
