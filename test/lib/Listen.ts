import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted, Stream } from "effect"

/**
 * The next NOTIFY payload on `channel`, heard by a LISTEN of its own (as another instance would
 * hear it). Resolves once listening has begun; `next` settles with the payload, or fails after 5 s.
 */
export const listenOnce = async (databaseUrl: string, channel: string) => {
  const next = PgClient.PgClient.pipe(
    Effect.flatMap((sql) => sql.listen(channel).pipe(Stream.take(1), Stream.runCollect)),
    Effect.map((payloads) => [...payloads][0]),
    Effect.timeout("5 seconds"),
    Effect.provide(PgClient.layer({ url: Redacted.make(databaseUrl) })),
    Effect.runPromise
  )
  // sql.listen gives no signal once LISTEN is in place; a short wait covers the connection.
  await Bun.sleep(300)
  return { next }
}
