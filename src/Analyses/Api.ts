import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { Analysis, AnalysisAccepted, ListAnalysesParams } from "../Domain/Analysis.js"
import { Forbidden, NotFound, ValidationFailed } from "../Domain/Errors.js"
import { BugId } from "../Domain/Ids.js"
import { Page } from "../Domain/Page.js"
import { JsonBody } from "../Http/JsonBody.js"

const BugPath = Schema.Struct({ id: BugId })

/** Contract §13: root-cause analyses of a bug, run as jobs. */
export class AnalysesApi extends HttpApiGroup.make("analyses")
  .add(
    HttpApiEndpoint.post("request", "/bugs/:id/analyses")
      .setPath(BugPath)
      .addSuccess(AnalysisAccepted, { status: 202 })
      .addError(NotFound)
      .addError(Forbidden)
      .annotate(
        OpenApi.Description,
        "Queues a root-cause analysis (triagers and above, or the agent the bug is assigned to); no body. It runs as a job: the " +
          "providers of BUGBOTS_AI_PROVIDERS are tried in order, each within BUGBOTS_AI_TIMEOUT, and a timeout, an error or an " +
          "answer that does not decode into the result schema passes to the next (listed in `fallbacks`). The built-in " +
          "`heuristic` provider (offline rules over the exception type, message and frames, low confidence, no patch) answers last."
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/bugs/:id/analyses")
      .setPath(BugPath)
      .setUrlParams(ListAnalysesParams)
      .addSuccess(Page(Analysis))
      .addError(NotFound)
      .addError(Forbidden)
      .addError(ValidationFailed)
      .annotate(OpenApi.Description, "The bug's analyses, newest first (readers of the bug). Result fields are null while pending.")
  )
  .middleware(Authentication)
  .middleware(JsonBody)
  .prefix("/api") {}
