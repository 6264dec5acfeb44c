import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { Forbidden, NotFound, PayloadTooLarge, ServiceUnavailable, ValidationFailed } from "../Domain/Errors.js"
import { Page } from "../Domain/Page.js"
import { DeliveryId, DeliveryInFlight, InvalidSignature, ListDeliveriesParams, Receipt, WebhookDelivery } from "../Domain/Webhook.js"

const GitHubHeaders = Schema.Struct({
  "x-github-event": Schema.optional(Schema.String.annotations({ description: "the event name, e.g. issues (required: 400 without it)" })),
  "x-github-delivery": Schema.optional(
    Schema.String.annotations({ description: "the delivery's GUID; the same value again is DUPLICATE (required: 400 without it)" })
  ),
  "x-hub-signature-256": Schema.optional(
    Schema.String.annotations({ description: "sha256=<HMAC-SHA256 of the raw body under GITHUB_WEBHOOK_SECRET> (401 when missing or wrong)" })
  )
})

const RawEvent = HttpApiSchema.Uint8Array({ contentType: "application/json" }).annotations({
  description: "the event payload exactly as GitHub sent it: the signature is checked on these bytes, then it must be a JSON object"
})

/** Contract §6: GitHub's deliveries. Authenticated by the body's signature, not by a bearer token. */
export class WebhooksApi extends HttpApiGroup.make("webhooks")
  .add(
    HttpApiEndpoint.post("github", "/webhooks/github")
      .setHeaders(GitHubHeaders)
      .setPayload(RawEvent)
      .addSuccess(Receipt, { status: 202 })
      .addError(ValidationFailed)
      .addError(InvalidSignature)
      .addError(PayloadTooLarge)
      .addError(ServiceUnavailable)
      .annotate(
        OpenApi.Description,
        "Stores the delivery durably, then answers 202 (ACCEPTED, DUPLICATE or IGNORED); it is processed afterwards. " +
          "issues (opened, edited, labeled, unlabeled, closed, reopened, deleted) become bug bots; installation (created, deleted, " +
          "suspend, unsuspend) and installation_repositories (added, removed) keep installations, villages and repos in sync. " +
          "503 when GITHUB_WEBHOOK_SECRET is unset."
      )
  )
  .prefix("/api") {}

/** The delivery ledger, for superusers: what failed, and replaying it. */
export class WebhookAdminApi extends HttpApiGroup.make("webhookAdmin")
  .add(
    HttpApiEndpoint.get("list", "/admin/webhook-deliveries")
      .setUrlParams(ListDeliveriesParams)
      .addSuccess(Page(WebhookDelivery))
      .addError(Forbidden)
      .addError(ValidationFailed)
      .annotate(OpenApi.Description, "Deliveries, newest first (superuser only).")
  )
  .add(
    HttpApiEndpoint.post("replay", "/admin/webhook-deliveries/:id/replay")
      .setPath(Schema.Struct({ id: DeliveryId }))
      .addSuccess(WebhookDelivery, { status: 202 })
      .addError(NotFound)
      .addError(Forbidden)
      .addError(DeliveryInFlight)
      .annotate(
        OpenApi.Description,
        "Queues a settled delivery (failed, processed or ignored) again with fresh attempts (superuser only); 409 while it is queued or processing."
      )
  )
  .middleware(Authentication)
  .prefix("/api") {}
