import { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import { Effect, Schema } from "effect"
import { CreatedCursor, cursorTimestamp, decodeCursor, toPage } from "../Domain/Page.js"
import { withDb } from "./Retry.js"

/** One page of `table` rows matching `where`, oldest first, keyed on `(created_at, id)`. */
export const pageByCreation = <A, I>(
  schema: Schema.Schema<A, I>,
  table: string,
  where: Fragment,
  limit: number,
  cursor: string | undefined
) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const after = yield* decodeCursor(cursor, CreatedCursor)
    const keyset = after === undefined ? sql`true` : sql`(created_at, id) > (${after[0]}::timestamptz, ${after[1]}::uuid)`
    const rows = yield* sql<{ _ts: string; id: string }>`
      select *, ${sql.literal(cursorTimestamp("created_at"))} as _ts from ${sql(table)}
      where ${where} and ${keyset}
      order by created_at, id limit ${limit + 1}`.pipe(withDb)
    const decode = Schema.decodeUnknownSync(schema)
    return toPage(rows, limit, (row) => decode(row), (row) => [row._ts, row.id])
  })
