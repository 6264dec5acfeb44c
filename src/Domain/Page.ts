import { Effect, Schema } from "effect"
import { ValidationFailed } from "./Errors.js"

/** `?limit=` (1..200, default 50) and `?cursor=` of every list endpoint. */
export const PageParams = {
  limit: Schema.optionalWith(
    Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 200)).annotations({
      description: "page size, 1..200"
    }),
    { default: () => 50 }
  ),
  cursor: Schema.optional(Schema.String.annotations({ description: "opaque cursor from a previous page's next_cursor" }))
}

export const Page = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({ items: Schema.Array(item), next_cursor: Schema.NullOr(Schema.String) })

/**
 * Keyset cursors: the sort key of the last row of a page, opaque to clients. A cursor names a
 * position, not an offset, so it stays valid while rows are inserted.
 */
export const encodeCursor = (key: ReadonlyArray<string | number>) => Buffer.from(JSON.stringify(key)).toString("base64url")

export const decodeCursor = (cursor: string | undefined, arity: number) =>
  Effect.gen(function* () {
    if (cursor === undefined) return undefined
    const invalid = new ValidationFailed({ message: "cursor is not one this service issued" })
    const key = yield* Effect.try({
      try: () => JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown,
      catch: () => invalid
    })
    if (!Array.isArray(key) || key.length !== arity || !key.every((k) => typeof k === "string" || typeof k === "number")) {
      return yield* Effect.fail(invalid)
    }
    return key as ReadonlyArray<string | number>
  })

/** Rows fetched with `limit + 1`: the extra row says whether another page exists. */
export const toPage = <Row, A>(
  rows: ReadonlyArray<Row>,
  limit: number,
  toItem: (row: Row) => A,
  keyOf: (row: Row) => ReadonlyArray<string | number>
) => {
  const more = rows.length > limit
  const page = more ? rows.slice(0, limit) : rows
  return {
    items: page.map(toItem),
    next_cursor: more ? encodeCursor(keyOf(page[page.length - 1])) : null
  }
}

/** A timestamp as text with microseconds, for cursors (a JS Date keeps only milliseconds). */
export const cursorTimestamp = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
