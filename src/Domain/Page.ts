import { Effect, Schema } from "effect"
import { ValidationFailed } from "./Errors.js"
import { Text } from "./Fields.js"

/** `?limit=` (1..200, default 50) and `?cursor=` of every list endpoint. */
export const PageParams = {
  limit: Schema.optionalWith(
    Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 200)).annotations({
      description: "page size, 1..200"
    }),
    { default: () => 50 }
  ),
  cursor: Schema.optional(Text(1000).annotations({ description: "opaque cursor from a previous page's next_cursor" }))
}

export const Page = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({ items: Schema.Array(item), next_cursor: Schema.NullOr(Schema.String) })

/**
 * Keyset cursors: the sort key of the last row of a page, opaque to clients. A cursor names a
 * position, not an offset, so it stays valid while rows are inserted.
 */
export const encodeCursor = (key: ReadonlyArray<string | number>) => Buffer.from(JSON.stringify(key)).toString("base64url")

/** A timestamp as `cursorTimestamp` writes it, and a real instant (PostgreSQL would refuse 2026-13-45). */
const CursorInstant = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
  Schema.filter((s) => {
    const millis = Date.parse(`${s.slice(0, 23)}Z`)
    return !Number.isNaN(millis) && new Date(millis).toISOString().slice(0, 23) === s.slice(0, 23)
  })
)
const Seq = Schema.Int.pipe(Schema.between(0, Number.MAX_SAFE_INTEGER))

/** The keys of this service's cursors: what a page's last row was sorted by. */
export const CreatedCursor = Schema.Tuple(CursorInstant, Schema.UUID)
export const RankedCursor = Schema.Tuple(Schema.Int.pipe(Schema.between(0, 4)), CursorInstant, Schema.UUID)
export const SeqCursor = Schema.Tuple(Seq)

/** Decodes a cursor into its key; anything this service did not issue is `VALIDATION_FAILED`. */
export const decodeCursor = <A, I>(cursor: string | undefined, key: Schema.Schema<A, I>) =>
  cursor === undefined
    ? Effect.succeed(undefined)
    : Effect.try(() => JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown).pipe(
        Effect.flatMap(Schema.decodeUnknown(key)),
        Effect.mapError(() => new ValidationFailed({ message: "cursor is not one this service issued" }))
      )

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
