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
        "Superuser only. Per queue (webhook_deliveries = jobs github.delivery, bot_actions = github.action, analyses = analysis, " +
          "notifications = notification; a kind not yet in use shows zeros): depth by state, the age of the oldest due job, " +
          "processing time p50/p95 of the attempts finished in the last 5 minutes, live leases. Instances from their heartbeat rows " +
          "(gone after 3 silent BUGBOTS_INSTANCE_HEARTBEAT intervals, or once stopped). leader, last_reconcile and last_recovery keep " +
          "their documented shape but are null in this build: the leader lock and the reconciler (contract §11) are not built yet."
      )
  )
  .middleware(Authentication)
  .prefix("/api") {}
