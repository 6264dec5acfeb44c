import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import { JsonObject, NullableTimestamp, Text, Timestamp } from "./Fields.js"
import { PageParams } from "./Page.js"

/** Contract §10: what a bot does on GitHub. */
export const BotActionType = Schema.Literal("UPSERT_ISSUE_COMMENT", "UPSERT_PR_COMMENT", "CLOSE_PR_WITH_COMMENT")
export type BotActionType = typeof BotActionType.Type

/**
 * An action's state: `PENDING` (due now or after a retry's wait), `CLAIMED` (under a lease),
 * `DONE`, `FAILED` (refused by GitHub, or out of attempts: the dead letter). A `RETRYABLE_FAILURE`
 * outcome puts it back to `PENDING` with `attempts` + 1 and `next_attempt_at` later.
 */
export const BotActionStatus = Schema.Literal("PENDING", "CLAIMED", "DONE", "FAILED")
export type BotActionStatus = typeof BotActionStatus.Type

/** The hidden marker's name: `<!-- bugbots:<marker> -->`. */
export const Marker = Schema.String.pipe(Schema.pattern(/^[a-z0-9][a-z0-9_.:-]{0,99}$/))

/** What an action needs, and all it needs: a worker executes it from this alone. */
export const BotActionPayload = Schema.Struct({
  type: BotActionType,
  installation_id: Schema.Number,
  repo_full_name: Schema.String,
  number: Schema.Int,
  marker: Marker,
  body: Schema.String
})
export type BotActionPayload = typeof BotActionPayload.Type

/** An action as `GET /api/admin/bot-actions` shows it. */
export class BotAction extends Schema.Class<BotAction>("BotAction")({
  id: Schema.UUID,
  type: BotActionType,
  status: BotActionStatus,
  installation_id: Schema.Number,
  repo_full_name: Schema.String,
  number: Schema.Int,
  marker: Schema.String,
  body: Schema.String,
  attempts: Schema.Int.annotations({ description: "failed attempts so far (an executor that stopped mid-attempt counts)" }),
  max_attempts: Schema.Int,
  last_error: Schema.NullOr(Schema.String),
  next_attempt_at: NullableTimestamp,
  lease_expires_at: NullableTimestamp,
  result: Schema.NullOr(JsonObject),
  correlation_id: Schema.NullOr(Schema.String),
  created_at: Timestamp,
  updated_at: Timestamp,
  finished_at: NullableTimestamp
}) {}

export const ListBotActionsParams = Schema.Struct({
  status: Schema.optional(
    Schema.compose(Schema.split(","), Schema.Array(Schema.Union(BotActionStatus, Schema.Literal("RETRYABLE_FAILURE")))).annotations({
      description:
        "comma-separated states: PENDING, CLAIMED, DONE, FAILED (the dead letter); RETRYABLE_FAILURE selects the PENDING actions " +
        "waiting for a retry after a failed attempt"
    })
  ),
  ...PageParams
})

/** `POST /internal/v2/bot-actions/claim`. */
export const ClaimActions = Schema.Struct({
  limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 50)), { default: () => 10 }),
  lease_seconds: Schema.optionalWith(Schema.Int.pipe(Schema.between(10, 600)), { default: () => 60 })
})

export const ClaimedAction = Schema.Struct({
  id: Schema.UUID,
  type: BotActionType,
  installation_id: Schema.Number,
  repo_full_name: Schema.String,
  number: Schema.Int,
  marker: Schema.String,
  body: Schema.String,
  attempt: Schema.Int.annotations({ description: "this attempt's number, from 1" }),
  lease_token: Schema.String,
  lease_expires_at: Timestamp
})
export type ClaimedAction = typeof ClaimedAction.Type

export const ClaimedActions = Schema.Struct({ actions: Schema.Array(ClaimedAction) })

export const ActionOutcome = Schema.Literal("SUCCEEDED", "RETRYABLE_FAILURE", "FAILED")
export type ActionOutcome = typeof ActionOutcome.Type

/** `POST /internal/v2/bot-actions/{id}/result`. */
export const ActionResult = Schema.Struct({
  lease_token: Text(200),
  outcome: ActionOutcome,
  error: Schema.optional(Text(4000)),
  retry_after_seconds: Schema.optional(Schema.Int.pipe(Schema.between(0, 86_400)))
})
export type ActionResult = typeof ActionResult.Type

/** A GitHub webhook forwarded by a worker (`/internal/v2/github/events/*`). */
export const ForwardedEvent = Schema.Struct({
  delivery_id: Text(200),
  event: Text(100).pipe(Schema.pattern(/^[\x21-\x7e]+$/)),
  payload: JsonObject
})
export type ForwardedEvent = typeof ForwardedEvent.Type

/** Retrying an action that is queued or claimed right now. */
export class ActionInFlight extends Schema.TaggedError<ActionInFlight>()(
  "ActionInFlight",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}
