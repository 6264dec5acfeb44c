import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/** The lease named by a token is not held: wrong token, released, swept or expired. */
export class LeaseLost extends Schema.TaggedError<LeaseLost>()(
  "LeaseLost",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

export const defaultLeaseSeconds = 300

/** How long a lease lasts, 30..3600 seconds. */
export const LeaseSeconds = Schema.Int.pipe(Schema.between(30, 3600)).annotations({
  description: "lease length in seconds, 30..3600 (default 300)"
})

export const LeaseToken = Schema.UUID.annotations({ description: "the token a claim returned; proves the lease is held" })

export class Lease extends Schema.Class<Lease>("Lease")({
  token: LeaseToken,
  expires_at: Schema.DateTimeUtc
}) {}
