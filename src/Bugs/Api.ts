import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { JsonBody } from "../Http/JsonBody.js"
import {
  AddNote,
  AgentNotInVillage,
  AgentRequired,
  AssignBug,
  Bug,
  BugEvent,
  ChangeStatus,
  CreateBug,
  InvalidTransition,
  ListBugsParams,
  PatchBug,
  VersionConflict
} from "../Domain/Bug.js"
import { Forbidden, NotFound, ValidationFailed } from "../Domain/Errors.js"
import { BugId, VillageId } from "../Domain/Ids.js"
import { LeaseLost } from "../Domain/Lease.js"
import { Page, PageParams } from "../Domain/Page.js"

const BugPath = Schema.Struct({ id: BugId })
const VillagePath = Schema.Struct({ id: VillageId })

/** Contract §4: bug bots and their lifecycle. */
export class BugsApi extends HttpApiGroup.make("bugs")
  .add(
    HttpApiEndpoint.get("list", "/villages/:id/bugs")
      .setPath(VillagePath)
      .setUrlParams(ListBugsParams)
      .addSuccess(Page(Bug))
      .addError(NotFound)
      .addError(Forbidden)
      .addError(ValidationFailed)
  )
  .add(
    HttpApiEndpoint.post("create", "/villages/:id/bugs")
      .setPath(VillagePath)
      .setPayload(CreateBug)
      .addSuccess(Bug, { status: 201 })
      .addError(NotFound)
      .addError(Forbidden)
  )
  .add(HttpApiEndpoint.get("get", "/bugs/:id").setPath(BugPath).addSuccess(Bug).addError(NotFound).addError(Forbidden))
  .add(
    HttpApiEndpoint.patch("edit", "/bugs/:id")
      .setPath(BugPath)
      .setPayload(PatchBug)
      .addSuccess(Bug)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(VersionConflict)
      .annotate(OpenApi.Description, "Edits triage fields (kind edited, a bug_bot_update); a new severity moves sla_due_at by the village's policy.")
  )
  .add(
    HttpApiEndpoint.post("assign", "/bugs/:id/assign")
      .setPath(BugPath)
      .setPayload(AssignBug)
      .addSuccess(Bug)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(AgentNotInVillage)
  )
  .add(
    HttpApiEndpoint.put("changeStatus", "/bugs/:id/status")
      .setPath(BugPath)
      .setPayload(ChangeStatus)
      .addSuccess(Bug)
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
      .addSuccess(Page(BugEvent))
      .addError(NotFound)
      .addError(Forbidden)
      .addError(ValidationFailed)
  )
  .add(
    HttpApiEndpoint.post("addNote", "/bugs/:id/notes")
      .setPath(BugPath)
      .setPayload(AddNote)
      .addSuccess(BugEvent, { status: 201 })
      .addError(NotFound)
      .addError(Forbidden)
      .addError(LeaseLost)
  )
  .middleware(Authentication)
  .middleware(JsonBody)
  .prefix("/api") {}
