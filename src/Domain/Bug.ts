import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import { JsonObject, NullableTimestamp, Payload, Text, Timestamp } from "./Fields.js"
import { AgentId, BugEventId, BugId, RepoId, VillageId } from "./Ids.js"
import { LeaseToken } from "./Lease.js"
import { PageParams } from "./Page.js"

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
export type Provider = typeof Provider.Type
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


/** A bug bot as clients see it (contract §4, with the report and triage fields of §9). */
export class Bug extends Schema.Class<Bug>("Bug")({
  id: BugId,
  village_id: VillageId,
  repo_id: RepoId,
  provider: Provider,
  issue_id: Schema.NullOr(Schema.Number),
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
  created_at: Timestamp,
  updated_at: Timestamp,
  resolved_at: NullableTimestamp,
  occurrences: Schema.Int.annotations({ description: "error reports grouped into this bug (0 for other bugs)" }),
  first_seen: NullableTimestamp,
  last_seen: NullableTimestamp,
  last_release: Schema.NullOr(Schema.String),
  environment: Schema.NullOr(Schema.String),
  trace_id: Schema.NullOr(Schema.String),
  request_id: Schema.NullOr(Schema.String),
  release_sha: Schema.NullOr(Schema.String),
  sla_due_at: NullableTimestamp,
  resolution_notes: Schema.NullOr(Schema.String),
  commit_shas: Schema.Array(Schema.String),
  duplicate_of_id: Schema.NullOr(BugId),
  resolved_in_release: Schema.NullOr(Schema.String).annotations({
    description: "set with PUT status {status: resolved, resolved_in_release}: only reports of a later release reopen it"
  })
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
  "lease_expired",
  "regressed",
  "merged",
  "unmerged"
)
export type BugEventKind = typeof BugEventKind.Type
export const ActorType = Schema.Literal("user", "agent", "system")
export type ActorType = typeof ActorType.Type

export class BugEvent extends Schema.Class<BugEvent>("BugEvent")({
  id: BugEventId,
  bug_id: BugId,
  kind: BugEventKind,
  actor_type: ActorType,
  actor_id: Schema.NullOr(Schema.UUID),
  from_status: Schema.NullOr(BugStatus),
  to_status: Schema.NullOr(BugStatus),
  note: Schema.NullOr(Schema.String),
  data: JsonObject,
  correlation_id: Schema.NullOr(Schema.String),
  created_at: Timestamp
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

export const CreateBug = Payload({
  repo_id: RepoId,
  title: Text(500),
  description: Schema.optional(Schema.NullOr(Text(65536, { min: 0 }))),
  severity: Schema.optional(Schema.NullOr(Severity)),
  category: Schema.optional(Schema.NullOr(Text(100)))
})
export type CreateBug = typeof CreateBug.Type

export const AssignBug = Payload({
  agent_id: Schema.NullOr(AgentId).annotations({ description: "the agent to assign; null unassigns" })
})

export const ChangeStatus = Payload({
  status: BugStatus,
  reason: Schema.optional(Text(2000, { min: 0 })),
  expected_version: Schema.optional(Schema.Int.pipe(Schema.positive())),
  agent_id: Schema.optional(AgentId.annotations({ description: "assign this agent in the same change" })),
  lease_token: Schema.optional(
    LeaseToken.annotations({ description: "an agent's lease on the bug: when given, the change is made only while it is held (else 409 LEASE_LOST)" })
  ),
  resolved_in_release: Schema.optional(
    Text(200).annotations({ description: "with status resolved: only error reports of a release first seen after this one reopen the bug" })
  )
})
export type ChangeStatus = typeof ChangeStatus.Type

/** `PATCH /bugs/{id}`: triage fields (contract §9). */
export const PatchBug = Payload({
  title: Schema.optional(Text(500)),
  description: Schema.optional(Schema.NullOr(Text(65536, { min: 0 }))),
  severity: Schema.optional(Schema.NullOr(Severity)),
  category: Schema.optional(Schema.NullOr(Text(100))),
  resolution_notes: Schema.optional(Schema.NullOr(Text(65536, { min: 0 }))),
  commit_shas: Schema.optional(Schema.Array(Text(64).pipe(Schema.pattern(/^[0-9a-f]{7,64}$/i))).pipe(Schema.maxItems(100))),
  expected_version: Schema.optional(Schema.Int.pipe(Schema.positive()))
})
export type PatchBug = typeof PatchBug.Type

export const AddNote = Payload({
  body: Text(65536),
  lease_token: Schema.optional(
    LeaseToken.annotations({ description: "an agent's lease on the bug: when given, the note is added only while it is held (else 409 LEASE_LOST)" })
  )
})

export const BugSort = Schema.Literal("created_at", "-created_at", "updated_at", "-updated_at", "severity")
export type BugSort = typeof BugSort.Type

/** The filters, order and page of a bug list: `GET /villages/{id}/bugs` and RPC `ListBugs` alike. */
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
export type ListBugsParams = typeof ListBugsParams.Type

export interface BugFilters {
  readonly status?: ReadonlyArray<BugStatus> | undefined
  readonly repo_id?: RepoId | undefined
  readonly assigned_agent_id?: AgentId | undefined
  readonly severity?: Severity | undefined
  readonly source?: Source | undefined
}
