import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { Forbidden, NotFound } from "../Domain/Errors.js"
import { VillageId } from "../Domain/Ids.js"
import { VillageStats } from "../Domain/Operations.js"

/** Contract §12: a village's bug numbers at a glance. */
export class StatsApi extends HttpApiGroup.make("stats")
  .add(
    HttpApiEndpoint.get("village", "/villages/:id/stats")
      .setPath(Schema.Struct({ id: VillageId }))
      .addSuccess(VillageStats)
      .addError(NotFound)
      .addError(Forbidden)
      .annotate(
        OpenApi.Description,
        "For anyone who can read the village. by_status counts every bug; by_severity the bugs not resolved or closed; " +
          "open_past_sla those of them past sla_due_at; mttr_seconds_30d the mean time from creation to resolution of the bugs " +
          "resolved or closed in the last 30 days (duplicates excepted, null when none); created_7d and resolved_7d the last 7 days; " +
          "top_fingerprints the 10 error-report fingerprints with the most occurrences in the last 7 days."
      )
  )
  .middleware(Authentication)
  .prefix("/api") {}
