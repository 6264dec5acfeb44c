import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/**
 * Errors every resource shares. Each domain error is a `Schema.TaggedError` carrying its HTTP
 * status; the wire envelope `{"error": {code, message, request_id, details}}` is built from the tag
 * (`VersionConflict` → `VERSION_CONFLICT`) by `Http/ErrorEnvelope.ts`.
 */
export class Unauthenticated extends Schema.TaggedError<Unauthenticated>()(
  "Unauthenticated",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {
  static of(what: string, id: string) {
    return new NotFound({ message: `${what} ${id} not found` })
  }
}

/** A uniqueness rule of the data was hit (a login, a repo name, an agent name already taken). */
export class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class ValidationFailed extends Schema.TaggedError<ValidationFailed>()(
  "ValidationFailed",
  { message: Schema.String, details: Schema.optional(Schema.Unknown) },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** Over a rate limit (contract §12): answered with `retry-after`, in seconds, as `details` also says. */
export class RateLimited extends Schema.TaggedError<RateLimited>()(
  "RateLimited",
  { message: Schema.String, details: Schema.Struct({ retry_after_seconds: Schema.Int }) },
  HttpApiSchema.annotations({ status: 429 })
) {}

/** A body over the limit of the route it was sent to. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 413 })
) {}

/** A body of another media type than the endpoint takes. */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()(
  "UnsupportedMediaType",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 415 })
) {}

/** The database is out of reach after the retries of `Sql/Retry.ts`. */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()(
  "ServiceUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}
