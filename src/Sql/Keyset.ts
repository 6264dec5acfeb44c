import { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import { Effect, type Schema } from "effect"
import { CreatedCursor, cursorTimestamp, decodeCursor, toPage } from "../Domain/Page.js"
import { decodeJsonRows } from "./Json.js"
import { withDb } from "./Retry.js"

/**
 * One page of `table` (aliased `t`) rows matching `where`, oldest first, keyed on `(created_at, id)`;
 * `json` is the row's wire JSON (see `Sql/Json.ts`), decoded with `schema`.
 */
export const pageByCreation = <A, I>(schema: Schema.Schema<A, I>, table: string, json: string, where: Fragment, limit: number, cursor: string | undefined) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const after = yield* decodeCursor(cursor, CreatedCursor)
    const keyset = after === undefined ? sql`true` : sql`(t.created_at, t.id) > (${after[0]}::timestamptz, ${after[1]}::uuid)`
    const rows = yield* sql<{ json: string; ts: string; id: string }>`
      select ${sql.literal(json)}::text as json, ${sql.literal(cursorTimestamp("t.created_at"))} as ts, t.id from ${sql(table)} t
      where ${where} and ${keyset}
      order by t.created_at, t.id limit ${limit + 1}`.pipe(withDb)
    const items = yield* decodeJsonRows(schema)(rows)
    return toPage(items.map((item, i) => ({ item, row: rows[i] })), limit, (r) => r.item, (r) => [r.row.ts, r.row.id])
  })
