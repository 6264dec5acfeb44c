import { Rpc, RpcGroup, RpcMiddleware } from "@effect/rpc"
import { Schema } from "effect"
import { CurrentPrincipal } from "../Auth/Principal.js"
import { AgentPaused } from "../Domain/Agent.js"
import { AgentSession, NewWorkStreamEvent, SessionEnded, WorkStreamEvent } from "../Domain/AgentSession.js"
import {
  AddNote,
  AgentNotInVillage,
  AgentRequired,
  AssignBug,
  Bug,
  BugEvent,
  ChangeStatus,
  InvalidTransition,
  ListBugsParams,
  VersionConflict
} from "../Domain/Bug.js"
import { Forbidden, NotFound, RateLimited, ServiceUnavailable, Unauthenticated, ValidationFailed } from "../Domain/Errors.js"
import { Text } from "../Domain/Fields.js"
import { BugId, SessionId, VillageId } from "../Domain/Ids.js"
import { LeaseLost } from "../Domain/Lease.js"
import { Page } from "../Domain/Page.js"
import { Claimed, ClaimRequest, HeartbeatRequest, LeaseRenewed, ReleaseRequest } from "../Domain/Work.js"
import { RealtimeEvent } from "../Domain/Events.js"

/**
 * RPC authentication: the bearer token of the request (HTTP) or of the WebSocket handshake, checked
 * by the same `Auth.authenticate` as REST; provides `CurrentPrincipal` to every handler.
 */
export class RpcAuthentication extends RpcMiddleware.Tag<RpcAuthentication>()("bugbots/RpcAuthentication", {
  provides: CurrentPrincipal,
  failure: Schema.Union(Unauthenticated, ServiceUnavailable, RateLimited),
  wrap: true
}) {}

const BugRef = { id: BugId }

/** The same filters, order and page as `GET /villages/{id}/bugs`. */
export const ListBugsRequest = Schema.Struct({ village_id: VillageId, ...ListBugsParams.fields })

/**
 * Contract §8: the agent-facing surface over Effect RPC, with the same services, permissions and
 * errors as REST. Every call may also fail with `Unauthenticated` or `ServiceUnavailable` (the
 * middleware's failures).
 */
export class BugbotsRpcs extends RpcGroup.make(
  Rpc.make("ListBugs", {
    payload: ListBugsRequest.fields,
    success: Page(Bug),
    error: Schema.Union(NotFound, Forbidden, ValidationFailed, ServiceUnavailable)
  }),
  Rpc.make("GetBug", { payload: BugRef, success: Bug, error: Schema.Union(NotFound, Forbidden, ServiceUnavailable) }),
  Rpc.make("AssignBug", {
    payload: { ...BugRef, ...AssignBug.fields },
    success: Bug,
    error: Schema.Union(NotFound, Forbidden, AgentNotInVillage, ServiceUnavailable)
  }),
  Rpc.make("ChangeStatus", {
    payload: { ...BugRef, ...ChangeStatus.fields },
    success: Bug,
    error: Schema.Union(NotFound, Forbidden, VersionConflict, InvalidTransition, AgentRequired, AgentNotInVillage, LeaseLost, ServiceUnavailable)
  }),
  Rpc.make("AddNote", {
    payload: { ...BugRef, ...AddNote.fields },
    success: BugEvent,
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
    success: Bug,
    error: Schema.Union(NotFound, Forbidden, LeaseLost, ServiceUnavailable)
  }),
  Rpc.make("StartSession", { success: AgentSession, error: Schema.Union(Forbidden, ServiceUnavailable) }),
  Rpc.make("LogWork", {
    payload: { session_id: SessionId, ...NewWorkStreamEvent.fields },
    success: WorkStreamEvent,
    error: Schema.Union(NotFound, Forbidden, SessionEnded, ServiceUnavailable)
  }),
  Rpc.make("EndSession", {
    payload: { session_id: SessionId },
    success: AgentSession,
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
