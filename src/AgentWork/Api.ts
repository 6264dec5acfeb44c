import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { JsonBody } from "../Http/JsonBody.js"
import { AgentPaused } from "../Domain/Agent.js"
import { Bug } from "../Domain/Bug.js"
import { Forbidden, NotFound } from "../Domain/Errors.js"
import { BugId } from "../Domain/Ids.js"
import { LeaseLost } from "../Domain/Lease.js"
import { Claimed, ClaimRequest, HeartbeatRequest, LeaseRenewed, ReleaseRequest } from "../Domain/Work.js"

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
      .addSuccess(Bug)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(LeaseLost)
  )
  .middleware(Authentication)
  .middleware(JsonBody)
  .prefix("/api") {}
