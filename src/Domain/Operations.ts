import { Schema } from "effect"
import { NullableTimestamp, Timestamp } from "./Fields.js"
import { BugId, InstanceId } from "./Ids.js"

/** Jobs of a queue by state (contract §12). */
export const QueueDepth = Schema.Struct({
  pending: Schema.Int,
  running: Schema.Int,
  done: Schema.Int,
  failed: Schema.Int,
  ignored: Schema.Int
})

/** One queue of the jobs engine, as operators watch it. */
export class QueueStatus extends Schema.Class<QueueStatus>("QueueStatus")({
  queue: Schema.String,
  kind: Schema.String.annotations({ description: "the job kind in the jobs table" }),
  depth: QueueDepth,
  oldest_due_age_seconds: Schema.NullOr(Schema.Number).annotations({ description: "how long the oldest due pending job has waited; null when none is due" }),
  durations_5m: Schema.Struct({
    finished: Schema.Int,
    p50_seconds: Schema.NullOr(Schema.Number),
    p95_seconds: Schema.NullOr(Schema.Number)
  }).annotations({ description: "attempts that finished (done or failed) in the last 5 minutes: their count and processing time percentiles" }),
  active_leases: Schema.Int
}) {}

/** A running (or lately running) instance, from its heartbeat row. */
export class InstanceStatus extends Schema.Class<InstanceStatus>("InstanceStatus")({
  id: InstanceId,
  host: Schema.String,
  pid: Schema.Int,
  version: Schema.String,
  started_at: Timestamp,
  heartbeat_at: Timestamp,
  stopped_at: NullableTimestamp,
  state: Schema.Literal("live", "gone").annotations({
    description: "gone: stopped, or no heartbeat for 3 heartbeat intervals (BUGBOTS_INSTANCE_HEARTBEAT)"
  }),
  ws_connections: Schema.Int
}) {}

/** A scheduled run of the leader (reconcile, missed-delivery recovery). */
export const LeaderRun = Schema.Struct({
  id: Schema.String,
  started_at: Timestamp,
  finished_at: NullableTimestamp,
  status: Schema.String
})

/** `GET /api/admin/status` (contract §12). */
export class AdminStatus extends Schema.Class<AdminStatus>("AdminStatus")({
  generated_at: Timestamp,
  instance_id: InstanceId.annotations({ description: "the instance that answered" }),
  queues: Schema.Array(QueueStatus),
  bug_leases_active: Schema.Int,
  instances: Schema.Array(InstanceStatus),
  leader: Schema.NullOr(Schema.Struct({ instance_id: InstanceId, since: Timestamp })),
  last_reconcile: Schema.NullOr(LeaderRun),
  last_recovery: Schema.NullOr(LeaderRun),
  ws_connections: Schema.Struct({
    this_instance: Schema.Int,
    live_instances: Schema.Int.annotations({ description: "the sum over live instances, as of their last heartbeats" })
  })
}) {}

/** One of a village's most frequent error-report fingerprints. */
export class TopFingerprint extends Schema.Class<TopFingerprint>("TopFingerprint")({
  fingerprint: Schema.String,
  bug_id: BugId,
  title: Schema.String,
  occurrences_7d: Schema.Int,
  last_seen: Timestamp
}) {}

/** `GET /api/villages/{id}/stats` (contract §12). */
export class VillageStats extends Schema.Class<VillageStats>("VillageStats")({
  by_status: Schema.Struct({
    open: Schema.Int,
    triaged: Schema.Int,
    assigned: Schema.Int,
    in_progress: Schema.Int,
    awaiting_verification: Schema.Int,
    resolved: Schema.Int,
    closed: Schema.Int
  }),
  by_severity: Schema.Struct({ critical: Schema.Int, high: Schema.Int, medium: Schema.Int, low: Schema.Int, none: Schema.Int }).annotations({
    description: "bugs not resolved or closed, by severity (none: no severity set)"
  }),
  open_past_sla: Schema.Int,
  mttr_seconds_30d: Schema.NullOr(Schema.Number).annotations({
    description: "mean seconds from creation to resolution of the bugs resolved or closed in the last 30 days, duplicates excepted; null when none"
  }),
  created_7d: Schema.Int,
  resolved_7d: Schema.Int,
  top_fingerprints: Schema.Array(TopFingerprint)
}) {}
