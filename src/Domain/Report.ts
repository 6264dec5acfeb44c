import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import { BugId, IngestKeyId, OccurrenceId, RepoId } from "./Ids.js"
import { Severity } from "./Bug.js"
import { JsonObject, NullableTimestamp, Payload, Text, Timestamp, TimestampInput } from "./Fields.js"

/** Error reports (contract §9): ingest keys, the native report, occurrences and grouping. */

export class IngestKey extends Schema.Class<IngestKey>("IngestKey")({
  id: IngestKeyId,
  repo_id: RepoId,
  name: Schema.String,
  project_id: Schema.Int,
  public_key_prefix: Schema.String.annotations({ description: "the first characters of the public key (the key itself is shown once)" }),
  created_at: Timestamp,
  revoked_at: NullableTimestamp
}) {}

export class CreatedIngestKey extends Schema.Class<CreatedIngestKey>("CreatedIngestKey")({
  id: IngestKeyId,
  name: Schema.String,
  public_key: Schema.String.annotations({ description: "shown once: only its hash is stored" }),
  project_id: Schema.Int,
  dsn: Schema.String.annotations({ description: "<scheme>://<public_key>@<host>[:port]/<project_id>, for any Sentry SDK" }),
  created_at: Timestamp
}) {}

export const CreateIngestKey = Payload({ name: Text(100) })

export const ReportFrame = Schema.Struct({
  filename: Schema.optional(Schema.NullOr(Text(1000))),
  module: Schema.optional(Schema.NullOr(Text(500))),
  function: Schema.optional(Schema.NullOr(Text(500))),
  lineno: Schema.optional(Schema.NullOr(Schema.Int)),
  in_app: Schema.optional(Schema.NullOr(Schema.Boolean))
})

export const ReportStatus = Schema.Literal("open", "resolved", "closed")
export type ReportStatus = typeof ReportStatus.Type

/** `POST /api/reports`: an error report in bugbots' own terms. */
export const NativeReport = Payload({
  repo_id: Schema.optional(RepoId.annotations({ description: "with a user or agent token: the repo reported on" })),
  event_id: Schema.optional(
    Text(64).annotations({ description: "the report's own id: the same id again counts once (legacy imports use legacy-<id>)" })
  ),
  title: Schema.optional(Text(500)),
  message: Text(65536),
  severity: Schema.optional(Schema.NullOr(Severity)),
  category: Schema.optional(Schema.NullOr(Text(100))),
  component: Schema.optional(Text(200)),
  route: Schema.optional(Text(500)),
  exception: Schema.optional(
    Schema.Struct({
      type: Text(500),
      value: Text(65536, { min: 0 }),
      frames: Schema.optional(Schema.Array(ReportFrame).pipe(Schema.maxItems(250)))
    })
  ),
  fingerprint: Schema.optional(Schema.Array(Text(500)).pipe(Schema.minItems(1), Schema.maxItems(20))),
  release: Schema.optional(Text(200)),
  environment: Schema.optional(Text(100)),
  trace_id: Schema.optional(Text(128)),
  request_id: Schema.optional(Text(128)),
  tags: Schema.optional(Schema.Record({ key: Text(200), value: Text(1000, { min: 0 }) })),
  reporter: Schema.optional(Text(200)),
  occurred_at: Schema.optional(TimestampInput),
  status: Schema.optional(
    ReportStatus.annotations({
      description:
        "for imports from another tracker, the report's own standing there: a report already `resolved` or `closed` creates its bug in that " +
        "status and never reopens one (default `open`)"
    })
  )
})
export type NativeReport = typeof NativeReport.Type

export class ReportReceipt extends Schema.Class<ReportReceipt>("ReportReceipt")({
  occurrence_id: OccurrenceId,
  bug_id: BugId,
  fingerprint: Schema.String,
  new_bug: Schema.Boolean,
  regressed: Schema.Boolean,
  duplicate: Schema.Boolean.annotations({ description: "this event_id was stored before: the report changed nothing" })
}) {}

export class Occurrence extends Schema.Class<Occurrence>("Occurrence")({
  id: OccurrenceId,
  bug_id: BugId,
  event_id: Schema.String,
  fingerprint: Schema.String,
  received_at: Timestamp,
  occurred_at: NullableTimestamp,
  release: Schema.NullOr(Schema.String),
  environment: Schema.NullOr(Schema.String),
  trace_id: Schema.NullOr(Schema.String),
  request_id: Schema.NullOr(Schema.String),
  tags: JsonObject,
  event: JsonObject.annotations({ description: "the event as stored" })
}) {}

export const GroupingComponent = Schema.Struct({
  name: Schema.String,
  values: Schema.Array(Schema.String),
  contributed: Schema.Boolean
})
export type GroupingComponent = typeof GroupingComponent.Type

/** Why occurrences were grouped: the fingerprint and the components that made it. */
export class Grouping extends Schema.Class<Grouping>("Grouping")({
  fingerprint: Schema.String,
  components: Schema.Array(GroupingComponent)
}) {}

export const MergeBug = Payload({ into: BugId.annotations({ description: "the bug this one duplicates" }) })
export const UnmergeBug = Payload({ fingerprint: Text(128) })

/** A report that is not one: no event, an envelope that does not parse, a body that does not decompress. */
export class MalformedReport extends Schema.TaggedError<MalformedReport>()(
  "MalformedReport",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** Merging a bug into itself, into another village's bug, or a fingerprint the bug does not have. */
export class CannotMerge extends Schema.TaggedError<CannotMerge>()(
  "CannotMerge",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}
