import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import { JsonInput, JsonObject, Payload, Text, Timestamp } from "./Fields.js"
import { AgentId, VillageId } from "./Ids.js"

export const AgentState = Schema.Literal("active", "paused")
export type AgentState = typeof AgentState.Type

export class Agent extends Schema.Class<Agent>("Agent")({
  id: AgentId,
  village_id: VillageId,
  name: Schema.String,
  kind: Schema.NullOr(Schema.String),
  config: JsonObject,
  state: AgentState,
  created_at: Timestamp,
  updated_at: Timestamp
}) {}

export const CreateAgent = Payload({
  name: Text(200),
  kind: Schema.optionalWith(Schema.NullOr(Text(100)), { default: () => null }),
  config: Schema.optionalWith(JsonInput, { default: () => ({}) })
})
export type CreateAgent = typeof CreateAgent.Type

export class CreatedAgent extends Schema.Class<CreatedAgent>("CreatedAgent")({
  agent: Agent,
  token: Schema.String.annotations({ description: "the agent's first bearer token; shown once" })
}) {}

export const SetAgentState = Payload({ state: AgentState })

export class AgentPaused extends Schema.TaggedError<AgentPaused>()(
  "AgentPaused",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}
