import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import {
  ActionInFlight,
  ActionResult,
  BotAction,
  ClaimActions,
  ClaimedActions,
  ForwardedEvent,
  ListBotActionsParams
} from "../Domain/BotAction.js"
import { Forbidden, NotFound, PayloadTooLarge, ServiceUnavailable, ValidationFailed } from "../Domain/Errors.js"
import { LeaseLost } from "../Domain/Lease.js"
import { InvalidSignature, Receipt } from "../Domain/Webhook.js"

const ActionPath = Schema.Struct({ id: Schema.UUID })

/** The outbox for superusers: what is queued, claimed, done or dead-lettered, and retrying one. */
export class BotActionAdminApi extends HttpApiGroup.make("botActionAdmin")
  .add(
    HttpApiEndpoint.get("list", "/admin/bot-actions")
      .setUrlParams(ListBotActionsParams)
      .addSuccess(Schema.Struct({ items: Schema.Array(BotAction), next_cursor: Schema.NullOr(Schema.String) }))
      .addError(Forbidden)
      .addError(ValidationFailed)
      .annotate(
        OpenApi.Description,
        "Bot actions, newest first (superuser only). States: PENDING (due, or waiting for a retry after a RETRYABLE_FAILURE: " +
          "attempts > 0 and next_attempt_at set), CLAIMED (under a lease), DONE, FAILED (refused by GitHub, or out of attempts). " +
          "?status=RETRYABLE_FAILURE selects the PENDING actions waiting after a failed attempt."
      )
  )
  .add(
    HttpApiEndpoint.post("retry", "/admin/bot-actions/:id/retry")
      .setPath(ActionPath)
      .addSuccess(BotAction, { status: 202 })
      .addError(NotFound)
      .addError(Forbidden)
      .addError(ActionInFlight)
      .annotate(OpenApi.Description, "Queues a DONE or FAILED action again with fresh attempts (superuser only); 409 while PENDING or CLAIMED.")
  )
  .middleware(Authentication)
  .prefix("/api") {}

const Signed = Schema.Struct({
  "x-bugbots-timestamp": Schema.optional(Schema.String.annotations({ description: "unix seconds; more than 300 s from now is 401" })),
  "x-bugbots-signature": Schema.optional(
    Schema.String.annotations({ description: 'sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" under BUGBOTS_INTERNAL_SECRET>' })
  )
})

const signedNote =
  " Signed with BUGBOTS_INTERNAL_SECRET (503 when it is unset; 401 for a bad signature or a timestamp more than 300 s away); " +
  "unknown body fields are 400."

/** A delivery a worker forwards (signed), stored in the one ledger of /api/webhooks/github with the same effects. */
const forwardedEvent = <const Name extends string>(name: Name, path: `/${string}`, what: string) =>
  HttpApiEndpoint.post(name, path)
    .setHeaders(Signed)
    .setPayload(ForwardedEvent)
    .addSuccess(Receipt)
    .addError(InvalidSignature)
    .addError(ValidationFailed)
    .addError(PayloadTooLarge)
    .addError(ServiceUnavailable)
    .annotate(
      OpenApi.Description,
      `${what} Stored in the one delivery ledger of /api/webhooks/github, deduplicated by (delivery_id, event), with the same effects.` +
        signedNote
    )

/** Contract §10: the signed internal v2 protocol of bot workers outside the process. */
export class BotActionInternalApi extends HttpApiGroup.make("botActionInternal")
  .add(
    HttpApiEndpoint.post("claim", "/bot-actions/claim")
      .setHeaders(Signed)
      .setPayload(ClaimActions)
      .addSuccess(ClaimedActions)
      .addError(InvalidSignature)
      .addError(ValidationFailed)
      .addError(PayloadTooLarge)
      .addError(ServiceUnavailable)
      .annotate(
        OpenApi.Description,
        "Claims up to `limit` due actions under a lease of `lease_seconds`; concurrent claimers never receive the same action. " +
          "An empty list when nothing is due. `attempt` counts from 1; attempts are counted when an attempt fails, not when it is claimed." +
          signedNote
      )
  )
  .add(
    HttpApiEndpoint.post("result", "/bot-actions/:id/result")
      .setPath(ActionPath)
      .setHeaders(Signed)
      .setPayload(ActionResult)
      .addSuccess(BotAction)
      .addError(InvalidSignature)
      .addError(ValidationFailed)
      .addError(LeaseLost)
      .addError(NotFound)
      .addError(PayloadTooLarge)
      .addError(ServiceUnavailable)
      .annotate(
        OpenApi.Description,
        "Settles the attempt held by `lease_token`: SUCCEEDED → DONE; RETRYABLE_FAILURE → PENDING after the backoff, and never before " +
          "retry_after_seconds (or FAILED when out of attempts); FAILED → FAILED. A wrong, released or expired lease is 409 LEASE_LOST " +
          "and changes nothing; an unknown id is 404." +
          signedNote
      )
  )
  .add(
    forwardedEvent(
      "installationSync",
      "/github/events/installation-sync",
      "An `installation` or `installation_repositories` delivery forwarded by a worker (another event is 400)."
    )
  )
  .add(
    forwardedEvent(
      "pullRequest",
      "/github/events/pull-request",
      "A `pull_request` or `issue_comment` delivery (the gate's /verify and /approve) forwarded by a worker (another event is 400)."
    )
  )
  .prefix("/internal/v2") {}
