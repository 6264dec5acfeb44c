import { BunContext } from "@effect/platform-bun"
import { SqlClient } from "@effect/sql"
import { PgMigrator } from "@effect/sql-pg"
import { Effect, Layer, Option } from "effect"
import * as path from "node:path"
import { AppConfig } from "../Config.js"
import * as BunPgClient from "./BunPgClient.js"
import { embeddedPostgres } from "./Embedded.js"

const migrationsDir = path.resolve(import.meta.dir, "../../migrations")

/** `DATABASE_URL` when set, else an embedded PostgreSQL kept in the data directory. */
export const SqlLive = Layer.unwrapScoped(
  Effect.gen(function* () {
    const config = yield* AppConfig
    const url = yield* Option.match(config.databaseUrl, {
      onSome: Effect.succeed,
      onNone: () => embeddedPostgres({ dir: path.join(config.dataDir, "pg"), port: config.embeddedPort })
    })
    return BunPgClient.layer({ url, maxConnections: config.dbPoolSize, applicationName: "bugbots" })
  })
).pipe(Layer.provide(AppConfig.Default))

/**
 * Applies every migration not yet applied. The migrator serialises instances with a lock on its
 * bookkeeping table, but creates that table with a check-then-create that races when instances
 * start together on an empty database: so the table is created here first, under an advisory lock.
 */
export const migrate = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.withTransaction(
    sql`select pg_advisory_xact_lock(hashtext('bugbots_migrations'))`.pipe(
      Effect.zipRight(sql`
        create table if not exists bugbots_migrations (
          migration_id integer primary key,
          created_at timestamp with time zone not null default now(),
          name text not null
        )`)
    )
  )
  return yield* PgMigrator.run({ loader: PgMigrator.fromFileSystem(migrationsDir), table: "bugbots_migrations" })
}).pipe(
  Effect.tap((applied) =>
    applied.length > 0
      ? Effect.logInfo("migrations applied").pipe(Effect.annotateLogs("migrations", applied.map(([id, name]) => `${id}_${name}`)))
      : Effect.void
  ),
  Effect.provide(BunContext.layer)
)

export const MigrationsLive = Layer.effectDiscard(migrate)

/** Whether every migration on disk has been applied (for `/readyz`). */
export const pendingMigrations = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const onDisk = yield* PgMigrator.fromFileSystem(migrationsDir).pipe(Effect.provide(BunContext.layer))
  const rows = yield* sql<{ migration_id: number }>`select migration_id from bugbots_migrations`
  const applied = new Set(rows.map((r) => Number(r.migration_id)))
  return onDisk.filter(([id]: readonly [number, ...Array<unknown>]) => !applied.has(id)).length
})
