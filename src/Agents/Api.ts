import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { JsonBody } from "../Http/JsonBody.js"
import { Agent, CreateAgent, CreatedAgent, SetAgentState } from "../Domain/Agent.js"
import { Conflict, Forbidden, NotFound, ValidationFailed } from "../Domain/Errors.js"
import { AgentId, VillageId } from "../Domain/Ids.js"
import { Page, PageParams } from "../Domain/Page.js"
import { IssuedToken } from "../Domain/User.js"

const AgentPath = Schema.Struct({ id: AgentId })
const VillagePath = Schema.Struct({ id: VillageId })

/** Contract §4: agents of a village, their tokens, and pausing/resuming them. */
export class AgentsApi extends HttpApiGroup.make("agents")
  .add(
    HttpApiEndpoint.post("create", "/villages/:id/agents")
      .setPath(VillagePath)
      .setPayload(CreateAgent)
      .addSuccess(CreatedAgent, { status: 201 })
      .addError(NotFound)
      .addError(Forbidden)
      .addError(Conflict)
  )
  .add(
    HttpApiEndpoint.get("list", "/villages/:id/agents")
      .setPath(VillagePath)
      .setUrlParams(Schema.Struct(PageParams))
      .addSuccess(Page(Agent))
      .addError(NotFound)
      .addError(ValidationFailed)
  )
  .add(
    HttpApiEndpoint.post("createToken", "/agents/:id/tokens")
      .setPath(AgentPath)
      .addSuccess(IssuedToken, { status: 201 })
      .addError(NotFound)
      .addError(Forbidden)
  )
  .add(
    HttpApiEndpoint.put("setState", "/agents/:id/state")
      .setPath(AgentPath)
      .setPayload(SetAgentState)
      .addSuccess(Agent)
      .addError(NotFound)
      .addError(Forbidden)
  )
  .middleware(Authentication)
  .middleware(JsonBody)
  .prefix("/api") {}
