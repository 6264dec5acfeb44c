import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { Bug } from "../Domain/Bug.js"
import { Forbidden, NotFound, RateLimited, Unauthenticated, ValidationFailed } from "../Domain/Errors.js"
import { BugId, IngestKeyId, RepoId } from "../Domain/Ids.js"
import { Page, PageParams } from "../Domain/Page.js"
import {
  CannotMerge,
  CreatedIngestKey,
  CreateIngestKey,
  Grouping,
  IngestKey,
  MergeBug,
  NativeReport,
  Occurrence,
  ReportReceipt,
  UnmergeBug
} from "../Domain/Report.js"
import { JsonBody } from "../Http/JsonBody.js"

const RepoPath = Schema.Struct({ id: RepoId })
const BugPath = Schema.Struct({ id: BugId })

/** Contract §9: ingest keys, occurrences and grouping, merge and unmerge. */
export class ReportsApi extends HttpApiGroup.make("reports")
  .add(
    HttpApiEndpoint.post("createKey", "/repos/:id/ingest-keys")
      .setPath(RepoPath)
      .setPayload(CreateIngestKey)
      .addSuccess(CreatedIngestKey, { status: 201 })
      .addError(NotFound)
      .addError(Forbidden)
      .annotate(OpenApi.Description, "A key for error reports to this repo (admin, maintainer); `dsn` is what a Sentry SDK is given. Shown once.")
  )
  .add(
    HttpApiEndpoint.get("listKeys", "/repos/:id/ingest-keys")
      .setPath(RepoPath)
      .addSuccess(Page(IngestKey))
      .addError(NotFound)
      .addError(Forbidden)
      .annotate(OpenApi.Description, "The repo's ingest keys, revoked ones too (one page: next_cursor is null).")
  )
  .add(
    HttpApiEndpoint.del("revokeKey", "/repos/:id/ingest-keys/:key_id")
      .setPath(Schema.Struct({ id: RepoId, key_id: IngestKeyId }))
      .addSuccess(Schema.Void, { status: 204 })
      .addError(NotFound)
      .addError(Forbidden)
  )
  .add(
    HttpApiEndpoint.get("occurrences", "/bugs/:id/occurrences")
      .setPath(BugPath)
      .setUrlParams(Schema.Struct(PageParams))
      .addSuccess(Page(Occurrence))
      .addError(NotFound)
      .addError(Forbidden)
      .addError(ValidationFailed)
      .annotate(OpenApi.Description, "The bug's error reports, newest first.")
  )
  .add(HttpApiEndpoint.get("grouping", "/bugs/:id/grouping").setPath(BugPath).addSuccess(Grouping).addError(NotFound).addError(Forbidden))
  .add(
    HttpApiEndpoint.post("merge", "/bugs/:id/merge")
      .setPath(BugPath)
      .setPayload(MergeBug)
      .addSuccess(Bug)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(CannotMerge)
      .annotate(OpenApi.Description, "This bug duplicates `into`: it is closed with duplicate_of_id, and its fingerprints lead to `into` from now on.")
  )
  .add(
    HttpApiEndpoint.post("unmerge", "/bugs/:id/unmerge")
      .setPath(BugPath)
      .setPayload(UnmergeBug)
      .addSuccess(Bug, { status: 201 })
      .addError(NotFound)
      .addError(Forbidden)
      .addError(CannotMerge)
      .annotate(OpenApi.Description, "Splits one of the bug's fingerprints, with its reports, into a new bug (the answer).")
  )
  .middleware(Authentication)
  .middleware(JsonBody)
  .prefix("/api") {}

/**
 * `POST /api/reports`: authenticated by an ingest key's public key as the bearer token, or by a
 * user's or agent's token with `repo_id` (who may triage the repo's village), so it has no
 * Authentication middleware of its own.
 */
export class ReportIngestApi extends HttpApiGroup.make("reportIngest")
  .add(
    HttpApiEndpoint.post("report", "/reports")
      .setPayload(NativeReport)
      .addSuccess(ReportReceipt, { status: 201 })
      .addError(Unauthenticated)
      .addError(Forbidden)
      .addError(NotFound)
      .addError(RateLimited)
      .annotate(
        OpenApi.Description,
        "An error report in bugbots' terms: `Authorization: Bearer <ingest public key>`, or a user's or agent's token with `repo_id`. " +
          "Stored and grouped before the answer; the same event_id again counts once."
      )
  )
  .middleware(JsonBody)
  .prefix("/api") {}
