import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import { JsonInput, JsonObject, NullableTimestamp, Payload, Text, Timestamp } from "./Fields.js"
import { AgentId, BugId, SessionId, WorkStreamEventId } from "./Ids.js"

/** One run of an agent; its work stream is the events posted while it is open. */
export class AgentSession extends Schema.Class<AgentSession>("AgentSession")({
  id: SessionId,
  agent_id: AgentId,
  started_at: Timestamp,
  ended_at: NullableTimestamp
}) {}

/** A line of an agent's work log, broadcast to `agent:<agent_id>` as `work_stream_event`. */
export class WorkStreamEvent extends Schema.Class<WorkStreamEvent>("WorkStreamEvent")({
  id: WorkStreamEventId,
  session_id: SessionId,
  agent_id: AgentId,
  bug_id: Schema.NullOr(BugId),
  type: Schema.String,
  message: Schema.NullOr(Schema.String),
  data: JsonObject,
  correlation_id: Schema.NullOr(Schema.String),
  created_at: Timestamp
}) {}

export const NewWorkStreamEvent = Payload({
  type: Text(100).annotations({ description: "what happened, e.g. log, step, tool_call" }),
  message: Schema.optional(Schema.NullOr(Text(65536, { min: 0 }))),
  bug_id: Schema.optional(Schema.NullOr(BugId)),
  data: Schema.optional(JsonInput)
})
export type NewWorkStreamEvent = typeof NewWorkStreamEvent.Type

export class SessionEnded extends Schema.TaggedError<SessionEnded>()(
  "SessionEnded",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}
