import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { AgentPaused } from "../Domain/Agent.js"
import { Bug, Severity } from "../Domain/Bug.js"
import { Forbidden, NotFound } from "../Domain/Errors.js"
import { Payload, Text } from "../Domain/Fields.js"
import { BugId, RepoId } from "../Domain/Ids.js"
import { defaultLeaseSeconds, Lease, LeaseLost, LeaseSeconds, LeaseToken } from "../Leases/Lease.js"

const leaseSeconds = Schema.optionalWith(LeaseSeconds, { default: () => defaultLeaseSeconds })

export const ClaimRequest = Payload({
  repo_id: Schema.optional(RepoId.annotations({ description: "claim only in this repo" })),
  min_severity: Schema.optional(Severity.annotations({ description: "claim only bugs at least this severe" })),
  lease_seconds: leaseSeconds
})
export type ClaimRequest = typeof ClaimRequest.Type

export class Claimed extends Schema.Class<Claimed>("Claimed")({ bug: Bug.json, lease: Lease }) {}

export const HeartbeatRequest = Payload({ lease_token: LeaseToken, lease_seconds: leaseSeconds })

export class LeaseRenewed extends Schema.Class<LeaseRenewed>("LeaseRenewed")({ expires_at: Schema.DateTimeUtc }) {}

export const ReleaseRequest = Payload({
  lease_token: LeaseToken,
  reason: Schema.optional(Text(2000, { min: 0 }))
})

const BugPath = Schema.Struct({ id: BugId })

/** Contract §7: agents take work under a lease, keep it by heartbeat, and give it back. */
export class AgentWorkApi extends HttpApiGroup.make("agentWork")
  .add(
    HttpApiEndpoint.post("claim", "/agents/claim")
      .setPayload(ClaimRequest)
      .addSuccess(Claimed)
      .addSuccess(HttpApiSchema.NoContent.annotations({ description: "nothing is claimable" }))
      .addError(Forbidden)
      .addError(NotFound)
      .addError(AgentPaused)
      .annotate(OpenApi.Description, "The most severe, then oldest, claimable bug becomes in_progress under a lease held by the calling agent.")
  )
  .add(
    HttpApiEndpoint.post("heartbeat", "/bugs/:id/heartbeat")
      .setPath(BugPath)
      .setPayload(HeartbeatRequest)
      .addSuccess(LeaseRenewed)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(LeaseLost)
  )
  .add(
    HttpApiEndpoint.post("release", "/bugs/:id/release")
      .setPath(BugPath)
      .setPayload(ReleaseRequest)
      .addSuccess(Bug.json)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(LeaseLost)
  )
  .middleware(Authentication)
  .prefix("/api") {}
