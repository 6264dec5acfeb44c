import { Schema } from "effect"

export const RealtimeEventName = Schema.Literal(
  "bug_bot_spawn",
  "bug_bot_update",
  "bug_bot_resolved",
  "work_stream_event",
  "agent_update"
)
export type RealtimeEventName = typeof RealtimeEventName.Type

/** One entry of the durable event log; `id` is the cursor subscribers resume from (`since`). */
export class RealtimeEvent extends Schema.Class<RealtimeEvent>("RealtimeEvent")({
  id: Schema.String,
  event: RealtimeEventName,
  rooms: Schema.Array(Schema.String),
  correlation_id: Schema.NullOr(Schema.String),
  data: Schema.Unknown
}) {}

export const villageRoom = (id: string) => `village:${id}`
export const repoRoom = (id: string) => `repo:${id}`
export const agentRoom = (id: string) => `agent:${id}`
