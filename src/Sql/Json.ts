import { Effect, Schema } from "effect"

/**
 * Rows as their wire JSON, built by PostgreSQL: each repository selects `json_build_object(...)`
 * with the contract's field names and formats, so a row is decoded once, by the wire schema, and a
 * page can be passed through without decoding at all.
 */

/** A timestamp column as RFC 3339 UTC with milliseconds, the form `Schema.DateTimeUtc` writes. */
export const iso = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/** `json_build_object` over `fields`: each is a column of `alias`, or `[name, expression]`. */
export const jsonObject = (alias: string, fields: ReadonlyArray<string | readonly [string, string]>) =>
  `json_build_object(${fields
    .map((field) => (typeof field === "string" ? `'${field}', ${alias}.${field}` : `'${field[0]}', ${field[1]}`))
    .join(", ")})`

/** Decodes rows of `{ json: text }` with `schema`; a row that does not decode is our bug (a defect). */
export const decodeJsonRows = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknown(Schema.parseJson(schema))
  return (rows: ReadonlyArray<{ readonly json: string }>) => Effect.orDie(Effect.forEach(rows, (row) => decode(row.json)))
}
