import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import { NullableTimestamp, Timestamp } from "./Fields.js"
import { PageParams } from "./Page.js"

/**
 * A delivery's place in the ledger: `pending` (waiting, or waiting for a retry), `processing`
 * (claimed under a lease), `processed`, `failed` (dead-lettered after the last attempt, or a payload
 * that can never be applied) and `ignored` (stored, not an event we act on).
 */
export const DeliveryStatus = Schema.Literal("pending", "processing", "processed", "failed", "ignored")
export type DeliveryStatus = typeof DeliveryStatus.Type

/** `X-GitHub-Delivery`: a GUID from GitHub; any short printable token is accepted. */
export const DeliveryId = Schema.String.pipe(Schema.pattern(/^[\x21-\x7e]{1,200}$/), Schema.brand("DeliveryId")).annotations({
  description: "the X-GitHub-Delivery of a delivery"
})
export type DeliveryId = typeof DeliveryId.Type

/** Contract §6: what the receiver answers once the delivery is stored. */
export const Receipt = Schema.Struct({
  status: Schema.Literal("ACCEPTED", "DUPLICATE", "IGNORED").annotations({
    description: "ACCEPTED: stored and queued; DUPLICATE: this X-GitHub-Delivery was stored before, nothing changed; IGNORED: stored, not an event bugbots acts on"
  }),
  delivery_id: Schema.String
})
export type Receipt = typeof Receipt.Type

/** A ledger row as the admin endpoints show it (the payload stays in the database). */
export class WebhookDelivery extends Schema.Class<WebhookDelivery>("WebhookDelivery")({
  id: Schema.String,
  event: Schema.String,
  action: Schema.NullOr(Schema.String),
  status: DeliveryStatus,
  attempts: Schema.Int.annotations({ description: "failed attempts so far (a worker that stopped mid-attempt counts)" }),
  next_attempt_at: NullableTimestamp,
  last_error: Schema.NullOr(Schema.String),
  request_id: Schema.NullOr(Schema.String),
  received_at: Timestamp,
  processed_at: NullableTimestamp
}) {}

/** `X-Hub-Signature-256` is missing or is not the HMAC of the body under the configured secret. */
export class InvalidSignature extends Schema.TaggedError<InvalidSignature>()(
  "InvalidSignature",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}


/** Replaying a delivery that is queued or being processed right now. */
export class DeliveryInFlight extends Schema.TaggedError<DeliveryInFlight>()(
  "DeliveryInFlight",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

export const ListDeliveriesParams = Schema.Struct({
  status: Schema.optional(
    Schema.compose(Schema.split(","), Schema.Array(DeliveryStatus)).annotations({
      description: "comma-separated statuses: pending, processing, processed, failed (dead-lettered), ignored"
    })
  ),
  ...PageParams
})
