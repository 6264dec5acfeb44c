import { Model } from "@effect/sql"
import { Schema } from "effect"

/** PostgreSQL `bigint` arrives as a string from the driver; GitHub ids fit in a JS number. */
const Int8 = Schema.Union(Schema.Number, Schema.NumberFromString)

/** A field a create body may omit (then `fallback`); every other variant carries it. */
export const withDefaultOnCreate = <S extends Schema.Schema.Any>(schema: S, fallback: () => Schema.Schema.Type<S>) =>
  Model.Field({
    select: schema,
    insert: schema,
    update: schema,
    json: schema,
    jsonCreate: Schema.optionalWith(schema as unknown as Schema.Schema<Schema.Schema.Type<S>, Schema.Schema.Encoded<S>>, {
      default: fallback
    }),
    jsonUpdate: schema
  })

/** An upstream (GitHub) numeric id, optional on create. */
export const UpstreamId = Model.Field({
  select: Schema.NullOr(Int8),
  insert: Schema.NullOr(Schema.Number),
  update: Schema.NullOr(Schema.Number),
  json: Schema.NullOr(Schema.Number),
  jsonCreate: Schema.optionalWith(Schema.NullOr(Schema.Int), { default: () => null }),
  jsonUpdate: Schema.NullOr(Schema.Number)
})

export const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** A nullable timestamp: a `Date` in the database, an RFC 3339 string on the wire. */
export const NullableDateTime = Model.Field({
  select: Schema.NullOr(Schema.DateTimeUtcFromDate),
  insert: Schema.NullOr(Schema.DateTimeUtcFromDate),
  update: Schema.NullOr(Schema.DateTimeUtcFromDate),
  json: Schema.NullOr(Schema.DateTimeUtc),
  jsonCreate: Schema.NullOr(Schema.DateTimeUtc),
  jsonUpdate: Schema.NullOr(Schema.DateTimeUtc)
})
