import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { JsonBody } from "../Http/JsonBody.js"
import { Forbidden, NotFound, ValidationFailed } from "../Domain/Errors.js"
import { SessionId } from "../Domain/Ids.js"
import { Page, PageParams } from "../Domain/Page.js"
import { AgentSession, NewWorkStreamEvent, SessionEnded, WorkStreamEvent } from "../Domain/AgentSession.js"

const SessionPath = Schema.Struct({ id: SessionId })

/** Contract §7: agent sessions and their work streams. */
export class AgentSessionsApi extends HttpApiGroup.make("agentSessions")
  .add(HttpApiEndpoint.post("start", "/agents/me/sessions").addSuccess(AgentSession, { status: 201 }).addError(Forbidden))
  .add(
    HttpApiEndpoint.post("append", "/agent-sessions/:id/events")
      .setPath(SessionPath)
      .setPayload(NewWorkStreamEvent)
      .addSuccess(WorkStreamEvent, { status: 201 })
      .addError(NotFound)
      .addError(Forbidden)
      .addError(SessionEnded)
  )
  .add(
    HttpApiEndpoint.post("end", "/agent-sessions/:id/end")
      .setPath(SessionPath)
      .addSuccess(AgentSession)
      .addError(NotFound)
      .addError(Forbidden)
  )
  .add(
    HttpApiEndpoint.get("events", "/agent-sessions/:id/events")
      .setPath(SessionPath)
      .setUrlParams(Schema.Struct(PageParams))
      .addSuccess(Page(WorkStreamEvent))
      .addError(NotFound)
      .addError(Forbidden)
      .addError(ValidationFailed)
  )
  .middleware(Authentication)
  .middleware(JsonBody)
  .prefix("/api") {}
