import { Schema } from "effect"
import { NullableTimestamp, Payload, Timestamp } from "./Fields.js"
import { RepoId } from "./Ids.js"
import { PageParams } from "./Page.js"

/** Contract §11: what the reconciler would do, or did, to one issue's bug. */
export const PlannedChange = Schema.Struct({
  issue_number: Schema.Int,
  issue_id: Schema.Number,
  title: Schema.String,
  change: Schema.Literal("create", "update", "resolve", "reopen")
})
export type PlannedChange = typeof PlannedChange.Type

/**
 * One run of the reconciler over one repo. `status`: `running`, `succeeded`, `not_modified` (GitHub
 * answered 304 to the stored ETag: nothing changed, no rate limit spent) or `failed` (`error` says why;
 * what was applied before the failure stays applied and is counted).
 */
export class ReconcileRun extends Schema.Class<ReconcileRun>("ReconcileRun")({
  id: Schema.UUID,
  repo_id: RepoId,
  dry_run: Schema.Boolean,
  trigger: Schema.Literal("schedule", "manual"),
  status: Schema.Literal("running", "succeeded", "not_modified", "failed"),
  started_at: Timestamp,
  finished_at: NullableTimestamp,
  created: Schema.Int,
  updated: Schema.Int,
  resolved: Schema.Int,
  reopened: Schema.Int,
  unchanged: Schema.Int,
  planned: Schema.Array(PlannedChange).annotations({ description: "a dry run's changes (a real run records none: it made them)" }),
  error: Schema.NullOr(Schema.String)
}) {}

export const ReconcileRequest = Payload({
  dry_run: Schema.optionalWith(Schema.Boolean, { default: () => false })
})

export const ListReconcileRunsParams = Schema.Struct({ ...PageParams })

export const RecoverRequest = ReconcileRequest

/** Contract §11: what missed-delivery recovery found and did. */
export const RecoveryResult = Schema.Struct({
  dry_run: Schema.Boolean,
  checked: Schema.Int.annotations({ description: "distinct deliveries (GUIDs) GitHub lists within its 3-day window" }),
  missing: Schema.Int.annotations({ description: "of those, GUIDs the ledger lacks (GitHub failed to deliver them, or they never arrived)" }),
  redelivered: Schema.Int.annotations({ description: "redeliveries asked for now (a dry run: that would be asked); a GUID is asked for once" })
})
export type RecoveryResult = typeof RecoveryResult.Type
