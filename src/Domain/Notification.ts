import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import { NullableTimestamp, Payload, Text, Timestamp } from "./Fields.js"
import { VillageId } from "./Ids.js"
import { PageParams } from "./Page.js"

/** Notification channels and their deliveries (contract §13). */

export const NotificationChannelId = Schema.UUID.pipe(Schema.brand("NotificationChannelId"))
export type NotificationChannelId = typeof NotificationChannelId.Type
export const NotificationDeliveryId = Schema.UUID.pipe(Schema.brand("NotificationDeliveryId"))
export type NotificationDeliveryId = typeof NotificationDeliveryId.Type

export const NotificationEvent = Schema.Literal("bug_created", "regression", "sla_breach", "critical_bug", "bug_resolved")
export type NotificationEvent = typeof NotificationEvent.Type

export const ChannelKind = Schema.Literal("webhook", "slack", "email")
export type ChannelKind = typeof ChannelKind.Type

export const CreateChannel = Payload({
  kind: ChannelKind,
  target: Text(2000).annotations({ description: "webhook and slack: an http(s) URL; email: an address" }),
  events: Schema.Array(NotificationEvent).pipe(Schema.minItems(1), Schema.maxItems(5)),
  secret: Schema.optional(
    Text(200, { min: 16 }).annotations({
      description: "webhook only: the HMAC key of X-Bugbots-Signature (16..200 characters); omitted, one is generated and shown once"
    })
  )
})
export type CreateChannel = typeof CreateChannel.Type

export class NotificationChannel extends Schema.Class<NotificationChannel>("NotificationChannel")({
  id: NotificationChannelId,
  village_id: VillageId,
  kind: ChannelKind,
  target: Schema.String,
  events: Schema.Array(NotificationEvent),
  has_secret: Schema.Boolean.annotations({ description: "webhook channels sign with a secret, which is never shown again" }),
  created_at: Timestamp
}) {}

/** A created channel: with its webhook secret, shown this once. */
export class CreatedChannel extends NotificationChannel.extend<CreatedChannel>("CreatedChannel")({
  secret: Schema.optional(Schema.String.annotations({ description: "webhook channels: the signing secret, shown once" }))
}) {}

/**
 * A delivery's place: `pending` (waiting, or waiting for a retry), `processing` (claimed), `delivered`,
 * `failed` (dead-lettered after the last attempt, or refused for good: a 4xx, a redirect, a target
 * that resolves to a private address).
 */
export const NotificationDeliveryStatus = Schema.Literal("pending", "processing", "delivered", "failed")
export type NotificationDeliveryStatus = typeof NotificationDeliveryStatus.Type

export class NotificationDelivery extends Schema.Class<NotificationDelivery>("NotificationDelivery")({
  id: NotificationDeliveryId,
  channel_id: NotificationChannelId,
  village_id: VillageId,
  kind: ChannelKind,
  event: NotificationEvent,
  bug_id: Schema.UUID,
  status: NotificationDeliveryStatus,
  attempts: Schema.Int.annotations({ description: "failed attempts so far" }),
  next_attempt_at: NullableTimestamp,
  last_error: Schema.NullOr(Schema.String),
  created_at: Timestamp,
  finished_at: NullableTimestamp
}) {}

export const ListNotificationDeliveriesParams = Schema.Struct({
  status: Schema.optional(
    Schema.compose(Schema.split(","), Schema.Array(NotificationDeliveryStatus)).annotations({
      description: "comma-separated statuses: pending, processing, delivered, failed (dead-lettered)"
    })
  ),
  ...PageParams
})

/** A webhook or Slack target that resolves to loopback, link-local, private or unique-local addresses (or is not http(s)). */
export class UnsafeTarget extends Schema.TaggedError<UnsafeTarget>()(
  "UnsafeTarget",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** Retrying a delivery that is queued or being sent right now. */
export class DeliveryQueued extends Schema.TaggedError<DeliveryQueued>()(
  "DeliveryQueued",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}
