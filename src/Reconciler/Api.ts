import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { Conflict, Forbidden, NotFound, ValidationFailed } from "../Domain/Errors.js"
import { RepoId } from "../Domain/Ids.js"
import { Page } from "../Domain/Page.js"
import { ListReconcileRunsParams, ReconcileRequest, ReconcileRun, RecoverRequest, RecoveryResult } from "../Domain/Reconcile.js"
import { JsonBody } from "../Http/JsonBody.js"

const RepoPath = Schema.Struct({ id: RepoId })

/** Contract §11: the reconciler and missed-delivery recovery, run by hand. */
export class ReconcileApi extends HttpApiGroup.make("reconcile")
  .add(
    HttpApiEndpoint.post("run", "/repos/:id/reconcile")
      .setPath(RepoPath)
      .setPayload(ReconcileRequest)
      .addSuccess(ReconcileRun)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(Conflict)
      .addError(ValidationFailed)
      .annotate(
        OpenApi.Description,
        "Brings the repo's bugs in line with its GitHub issues now (admins and maintainers of its village), as the scheduled run does: " +
          "issues updated since the last successful run (state=all, 100 a page, pull requests skipped), created, resolved (issue " +
          "closed), reopened (an issue closed before is open again) and updated (title, body, severity labels) through the bug " +
          "lifecycle with source reconcile. A dry run plans and writes nothing to bugs (its run is recorded, with `planned`). A " +
          "failed run (GitHub refused, or rate-limited past BUGBOTS_GITHUB_MAX_WAIT) is answered 200 with status failed and its error. " +
          "409 when no active installation of the GitHub App covers the repo; 503 when the App's credentials are not set."
      )
  )
  .add(
    HttpApiEndpoint.get("runs", "/repos/:id/reconcile-runs")
      .setPath(RepoPath)
      .setUrlParams(ListReconcileRunsParams)
      .addSuccess(Page(ReconcileRun))
      .addError(NotFound)
      .addError(Forbidden)
      .addError(ValidationFailed)
      .annotate(OpenApi.Description, "The repo's reconcile runs, newest first (readers of the repo).")
  )
  .add(
    HttpApiEndpoint.post("recover", "/admin/webhook-deliveries/recover")
      .setPayload(RecoverRequest)
      .addSuccess(RecoveryResult)
      .addError(Forbidden)
      .addError(ValidationFailed)
      .annotate(
        OpenApi.Description,
        "Missed-delivery recovery now (superuser only): pages the App's deliveries within GitHub's 3-day window " +
          "(GET /app/hook/deliveries) and asks GitHub to redeliver, once per GUID, every delivery whose GUID the ledger lacks " +
          "(those GitHub reports failed, and those that never arrived). A delivery GitHub reports failed whose GUID the ledger " +
          "holds did arrive (it was answered late) and is not asked again. 503 when the App's credentials are not set."
      )
  )
  .middleware(JsonBody)
  .middleware(Authentication)
  .prefix("/api") {}
