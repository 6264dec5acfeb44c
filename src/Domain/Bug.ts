import { HttpApiSchema } from "@effect/platform"
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { JsonObject, NullableDateTime } from "./Fields.js"
import { AgentId, BugEventId, BugId, RepoId, VillageId } from "./Ids.js"

export const BugStatus = Schema.Literal(
  "open",
  "triaged",
  "assigned",
  "in_progress",
  "awaiting_verification",
  "resolved",
  "closed"
)
export type BugStatus = typeof BugStatus.Type

export const Severity = Schema.Literal("critical", "high", "medium", "low")
export type Severity = typeof Severity.Type
export const severityRank = (s: Severity | null): number => (s === null ? 4 : Severity.literals.indexOf(s))

export const Provider = Schema.Literal("github", "manual", "report")
export const Source = Schema.Literal("webhook", "manual", "reconcile", "report")
export type Source = typeof Source.Type

/** Contract §4: the allowed moves between statuses; anything else is `INVALID_TRANSITION`. */
export const transitions: Record<BugStatus, ReadonlyArray<BugStatus>> = {
  open: ["triaged", "assigned", "in_progress", "resolved", "closed"],
  triaged: ["open", "assigned", "in_progress", "resolved", "closed"],
  assigned: ["open", "triaged", "in_progress", "awaiting_verification", "resolved", "closed"],
  in_progress: ["open", "assigned", "awaiting_verification", "resolved", "closed"],
  awaiting_verification: ["open", "in_progress", "resolved", "closed"],
  resolved: ["open", "closed"],
  closed: ["open"]
}
/** A bug in these statuses always has an agent: entering them without one is `AGENT_REQUIRED`. */
export const requiresAgent = (s: BugStatus) => s === "assigned" || s === "in_progress"
export const isTerminal = (s: BugStatus) => s === "resolved" || s === "closed"


export class Bug extends Model.Class<Bug>("Bug")({
  id: Model.Generated(BugId),
  village_id: VillageId,
  repo_id: RepoId,
  provider: Provider,
  issue_id: Schema.NullOr(Schema.Union(Schema.Number, Schema.NumberFromString)),
  issue_number: Schema.NullOr(Schema.Int),
  title: Schema.String,
  description: Schema.NullOr(Schema.String),
  status: BugStatus,
  severity: Schema.NullOr(Severity),
  category: Schema.NullOr(Schema.String),
  assigned_agent_id: Schema.NullOr(AgentId),
  source: Source,
  metadata: JsonObject,
  version: Schema.Int,
  created_at: Model.DateTimeInsertFromDate,
  updated_at: Model.DateTimeUpdateFromDate,
  resolved_at: NullableDateTime
}) {}

export const BugEventKind = Schema.Literal(
  "created",
  "edited",
  "assigned",
  "unassigned",
  "status_changed",
  "note",
  "claimed",
  "released",
  "lease_expired"
)
export type BugEventKind = typeof BugEventKind.Type
export const ActorType = Schema.Literal("user", "agent", "system")
export type ActorType = typeof ActorType.Type

export class BugEvent extends Model.Class<BugEvent>("BugEvent")({
  id: Model.Generated(BugEventId),
  bug_id: BugId,
  kind: BugEventKind,
  actor_type: ActorType,
  actor_id: Schema.NullOr(Schema.UUID),
  from_status: Schema.NullOr(BugStatus),
  to_status: Schema.NullOr(BugStatus),
  note: Schema.NullOr(Schema.String),
  data: JsonObject,
  correlation_id: Schema.NullOr(Schema.String),
  created_at: Model.DateTimeInsertFromDate
}) {}

export class VersionConflict extends Schema.TaggedError<VersionConflict>()(
  "VersionConflict",
  { message: Schema.String, details: Schema.Struct({ expected_version: Schema.Int, current_version: Schema.Int }) },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()(
  "InvalidTransition",
  { message: Schema.String, details: Schema.Struct({ from: BugStatus, to: BugStatus }) },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class AgentRequired extends Schema.TaggedError<AgentRequired>()(
  "AgentRequired",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class AgentNotInVillage extends Schema.TaggedError<AgentNotInVillage>()(
  "AgentNotInVillage",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}
