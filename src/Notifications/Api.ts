import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { Forbidden, NotFound, ServiceUnavailable, ValidationFailed } from "../Domain/Errors.js"
import { VillageId } from "../Domain/Ids.js"
import {
  CreateChannel,
  CreatedChannel,
  DeliveryQueued,
  ListNotificationDeliveriesParams,
  NotificationChannel,
  NotificationChannelId,
  NotificationDelivery,
  NotificationDeliveryId,
  UnsafeTarget
} from "../Domain/Notification.js"
import { Page, PageParams } from "../Domain/Page.js"
import { JsonBody } from "../Http/JsonBody.js"

const VillagePath = Schema.Struct({ id: VillageId })

/** Contract §13: where a village's notifications go (admins). */
export class NotificationChannelsApi extends HttpApiGroup.make("notificationChannels")
  .add(
    HttpApiEndpoint.post("create", "/villages/:id/notification-channels")
      .setPath(VillagePath)
      .setPayload(CreateChannel)
      .addSuccess(CreatedChannel, { status: 201 })
      .addError(NotFound)
      .addError(Forbidden)
      .addError(UnsafeTarget)
      .addError(ValidationFailed)
      .addError(ServiceUnavailable)
      .annotate(
        OpenApi.Description,
        "Admins. `webhook` posts the event as JSON signed with `X-Bugbots-Signature: sha256=<hex HMAC-SHA256 of the body under the " +
          "channel's secret>` (also `X-Bugbots-Event`, `X-Bugbots-Delivery`); without `secret` one is generated and returned once. " +
          "`slack` posts an incoming-webhook message (`text` and `blocks`). `email` sends through BUGBOTS_SMTP_URL (503 when unset). " +
          "A webhook or Slack URL whose host is or resolves to a loopback, link-local, private or unique-local address is refused " +
          "(400 UNSAFE_TARGET), now and again at every delivery, unless BUGBOTS_ALLOW_PRIVATE_TARGETS=true; redirects are not " +
          "followed. Webhook secrets are kept sealed under BUGBOTS_SECRETS_KEY (503 when unset). Events: bug_created, regression " +
          "(an error report reopened a resolved bug), sla_breach (a bug still open past its SLA deadline, once per deadline), " +
          "critical_bug (created critical, or raised to critical), bug_resolved (entered resolved or closed)."
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/villages/:id/notification-channels")
      .setPath(VillagePath)
      .setUrlParams(Schema.Struct(PageParams))
      .addSuccess(Page(NotificationChannel))
      .addError(NotFound)
      .addError(Forbidden)
      .addError(ValidationFailed)
      .annotate(OpenApi.Description, "Admins. Secrets are never shown (`has_secret`).")
  )
  .add(
    HttpApiEndpoint.del("delete", "/villages/:id/notification-channels/:channel_id")
      .setPath(Schema.Struct({ id: VillageId, channel_id: NotificationChannelId }))
      .addSuccess(Schema.Void, { status: 204 })
      .addError(NotFound)
      .addError(Forbidden)
      .annotate(OpenApi.Description, "Admins. Deliveries still queued for the channel are dropped when they come up.")
  )
  .middleware(Authentication)
  .middleware(JsonBody)
  .prefix("/api") {}

/** Notification deliveries on the jobs engine, for superusers: what failed, and retrying it. */
export class NotificationAdminApi extends HttpApiGroup.make("notificationAdmin")
  .add(
    HttpApiEndpoint.get("list", "/admin/notification-deliveries")
      .setUrlParams(ListNotificationDeliveriesParams)
      .addSuccess(Page(NotificationDelivery))
      .addError(Forbidden)
      .addError(ValidationFailed)
      .annotate(OpenApi.Description, "Deliveries, newest first (superuser only); `failed` are the dead letters.")
  )
  .add(
    HttpApiEndpoint.post("retry", "/admin/notification-deliveries/:id/retry")
      .setPath(Schema.Struct({ id: NotificationDeliveryId }))
      .addSuccess(NotificationDelivery, { status: 202 })
      .addError(NotFound)
      .addError(Forbidden)
      .addError(DeliveryQueued)
      .annotate(OpenApi.Description, "Queues a settled delivery (failed or delivered) again with fresh attempts (superuser only); 409 while queued or being sent.")
  )
  .middleware(Authentication)
  .prefix("/api") {}
