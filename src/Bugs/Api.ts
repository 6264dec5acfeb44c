import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { AgentNotInVillage, AgentRequired, Bug, BugEvent, BugStatus, InvalidTransition, Severity, Source, VersionConflict } from "../Domain/Bug.js"
import { Forbidden, NotFound, ValidationFailed } from "../Domain/Errors.js"
import { AgentId, BugId, RepoId, VillageId } from "../Domain/Ids.js"
import { Payload, Text } from "../Domain/Fields.js"
import { Page, PageParams } from "../Domain/Page.js"
import { LeaseLost, LeaseToken } from "../Leases/Lease.js"
import { BugSort } from "./BugsRepo.js"

const BugPath = Schema.Struct({ id: BugId })
const VillagePath = Schema.Struct({ id: VillageId })

export const CreateBug = Payload({
  repo_id: RepoId,
  title: Text(500),
  description: Schema.optional(Schema.NullOr(Text(65536, { min: 0 }))),
  severity: Schema.optional(Schema.NullOr(Severity)),
  category: Schema.optional(Schema.NullOr(Text(100)))
})

export const AssignBug = Payload({
  agent_id: Schema.NullOr(AgentId).annotations({ description: "the agent to assign; null unassigns" })
})

export const ChangeStatus = Payload({
  status: BugStatus,
  reason: Schema.optional(Text(2000, { min: 0 })),
  expected_version: Schema.optional(Schema.Int.pipe(Schema.positive())),
  agent_id: Schema.optional(AgentId.annotations({ description: "assign this agent in the same change" })),
  lease_token: Schema.optional(LeaseToken.annotations({ description: "an agent's lease on the bug: when given, the change is made only while it is held (else 409 LEASE_LOST)" }))
})

export const AddNote = Payload({
  body: Text(65536),
  lease_token: Schema.optional(LeaseToken.annotations({ description: "an agent's lease on the bug: when given, the note is added only while it is held (else 409 LEASE_LOST)" }))
})

export const ListBugsParams = Schema.Struct({
  status: Schema.optional(
    Schema.compose(Schema.split(","), Schema.Array(BugStatus)).annotations({ description: "comma-separated statuses" })
  ),
  repo_id: Schema.optional(RepoId),
  assigned_agent_id: Schema.optional(AgentId),
  severity: Schema.optional(Severity),
  source: Schema.optional(Source),
  sort: Schema.optionalWith(BugSort, { default: () => "-created_at" as const }),
  ...PageParams
})

/** Contract §4: bug bots and their lifecycle. */
export class BugsApi extends HttpApiGroup.make("bugs")
  .add(
    HttpApiEndpoint.get("list", "/villages/:id/bugs")
      .setPath(VillagePath)
      .setUrlParams(ListBugsParams)
      .addSuccess(Page(Bug.json))
      .addError(NotFound)
      .addError(Forbidden)
      .addError(ValidationFailed)
  )
  .add(
    HttpApiEndpoint.post("create", "/villages/:id/bugs")
      .setPath(VillagePath)
      .setPayload(CreateBug)
      .addSuccess(Bug.json, { status: 201 })
      .addError(NotFound)
      .addError(Forbidden)
  )
  .add(HttpApiEndpoint.get("get", "/bugs/:id").setPath(BugPath).addSuccess(Bug.json).addError(NotFound).addError(Forbidden))
  .add(
    HttpApiEndpoint.post("assign", "/bugs/:id/assign")
      .setPath(BugPath)
      .setPayload(AssignBug)
      .addSuccess(Bug.json)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(AgentNotInVillage)
  )
  .add(
    HttpApiEndpoint.put("changeStatus", "/bugs/:id/status")
      .setPath(BugPath)
      .setPayload(ChangeStatus)
      .addSuccess(Bug.json)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(VersionConflict)
      .addError(InvalidTransition)
      .addError(AgentRequired)
      .addError(AgentNotInVillage)
      .addError(LeaseLost)
  )
  .add(
    HttpApiEndpoint.get("events", "/bugs/:id/events")
      .setPath(BugPath)
      .setUrlParams(Schema.Struct(PageParams))
      .addSuccess(Page(BugEvent.json))
      .addError(NotFound)
      .addError(Forbidden)
      .addError(ValidationFailed)
  )
  .add(
    HttpApiEndpoint.post("addNote", "/bugs/:id/notes")
      .setPath(BugPath)
      .setPayload(AddNote)
      .addSuccess(BugEvent.json, { status: 201 })
      .addError(NotFound)
      .addError(Forbidden)
      .addError(LeaseLost)
  )
  .middleware(Authentication)
  .prefix("/api") {}
