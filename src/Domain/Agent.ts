import { HttpApiSchema } from "@effect/platform"
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { JsonInput, JsonObject, Text, withDefaultOnCreate } from "./Fields.js"
import { AgentId, VillageId } from "./Ids.js"

export const AgentState = Schema.Literal("active", "paused")
export type AgentState = typeof AgentState.Type

export class Agent extends Model.Class<Agent>("Agent")({
  id: Model.Generated(AgentId),
  village_id: Model.FieldExcept("jsonCreate", "jsonUpdate")(VillageId),
  name: Text(200),
  kind: withDefaultOnCreate(Schema.NullOr(Text(100)), () => null),
  config: withDefaultOnCreate(JsonObject, () => ({}), JsonInput),
  state: Model.FieldExcept("jsonCreate")(AgentState),
  created_at: Model.DateTimeInsertFromDate,
  updated_at: Model.DateTimeUpdateFromDate
}) {}

export class AgentPaused extends Schema.TaggedError<AgentPaused>()(
  "AgentPaused",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}
