import { Schema, Struct } from "effect"
import { Agent } from "./Agent.js"
import { WorkStreamEvent } from "./AgentSession.js"
import { Bug } from "./Bug.js"

/**
 * The realtime events of contract §5 and §7, as rooms deliver them (`/ws` frames carry the same
 * fields, plus the room). `id` is the cursor a subscriber resumes from (`since`).
 */

/** A bug as realtime events carry it: without its description. */
export const BugSummary = Schema.Struct(Struct.omit(Bug.fields, "description")).annotations({ identifier: "BugSummary" })
export type BugSummary = typeof BugSummary.Type

const logged = {
  id: Schema.String,
  rooms: Schema.Array(Schema.String),
  correlation_id: Schema.NullOr(Schema.String)
}

export class BugBotSpawned extends Schema.Class<BugBotSpawned>("BugBotSpawned")({
  ...logged,
  event: Schema.Literal("bug_bot_spawn"),
  data: BugSummary
}) {}

export class BugBotUpdated extends Schema.Class<BugBotUpdated>("BugBotUpdated")({
  ...logged,
  event: Schema.Literal("bug_bot_update"),
  data: BugSummary
}) {}

export class BugBotResolved extends Schema.Class<BugBotResolved>("BugBotResolved")({
  ...logged,
  event: Schema.Literal("bug_bot_resolved"),
  data: BugSummary
}) {}

export class WorkStreamPosted extends Schema.Class<WorkStreamPosted>("WorkStreamPosted")({
  ...logged,
  event: Schema.Literal("work_stream_event"),
  data: WorkStreamEvent
}) {}

export class AgentUpdated extends Schema.Class<AgentUpdated>("AgentUpdated")({
  ...logged,
  event: Schema.Literal("agent_update"),
  data: Agent
}) {}

/** Every realtime event, told apart by `event`. */
export const RealtimeEvent = Schema.Union(BugBotSpawned, BugBotUpdated, BugBotResolved, WorkStreamPosted, AgentUpdated)
export type RealtimeEvent = typeof RealtimeEvent.Type
export type RealtimeEventName = RealtimeEvent["event"]
