import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import { Text } from "./Fields.js"

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

/** Opaque to clients (contract §7): a token of any other shape is simply not the lease's, so `LEASE_LOST`. */
export const LeaseToken = Text(200).annotations({ description: "the token a claim returned (opaque); proves the lease is held" })

export class Lease extends Schema.Class<Lease>("Lease")({
  token: Schema.String,
  expires_at: Schema.DateTimeUtc
}) {}
