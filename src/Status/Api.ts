import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Authentication } from "../Auth/Middleware.js"
import { Forbidden } from "../Domain/Errors.js"
import { AdminStatus } from "../Domain/Operations.js"

/** Contract §12: how the service is doing, for superusers. */
export class StatusApi extends HttpApiGroup.make("status")
  .add(
    HttpApiEndpoint.get("adminStatus", "/admin/status")
      .addSuccess(AdminStatus)
      .addError(Forbidden)
      .annotate(
        OpenApi.Description,
        "Superuser only. Per queue (webhook_deliveries = jobs github.delivery, bot_actions = github.action, analyses = bug.analysis, " +
          "notifications = notification.delivery; a queue with no jobs shows zeros): depth by state, the age of the oldest due job, " +
          "processing time p50/p95 of the attempts finished in the last 5 minutes, live leases. Instances from their heartbeat rows " +
          "(gone after 3 silent BUGBOTS_INSTANCE_HEARTBEAT intervals, or once stopped). leader: the instance holding the leader lock " +
          "and since when (null while none does); last_reconcile and last_recovery: the latest run of each (null before the first, " +
          "and always without a GitHub App configured)."
      )
  )
  .middleware(Authentication)
  .prefix("/api") {}
