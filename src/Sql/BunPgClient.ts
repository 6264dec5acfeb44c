import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import { PgClient } from "@effect/sql-pg"
import { SQL } from "bun"
import { Context, Effect, Layer, Redacted, Stream } from "effect"
import * as Pg from "pg"

export interface BunPgClientConfig {
  readonly url: Redacted.Redacted
  readonly maxConnections: number
  readonly applicationName: string
}

/** Runs the query `start` makes: a `Bun.SQL` query settles once, so each run makes its own. */
const run = <A>(start: () => SQL.Query<A>, message: string) =>
  Effect.async<A, SqlError>((resume) => {
    const query = start()
    query.then(
      (result) => resume(Effect.succeed(result)),
      (cause) => resume(Effect.fail(new SqlError({ cause, message })))
    )
    return Effect.sync(() => void query.cancel())
  })

const makeConnection = (client: SQL): Connection => {
  const execute = (text: string, params: ReadonlyArray<unknown>, transformRows: (<A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined) => {
    const rows = run<ReadonlyArray<any>>(() => client.unsafe(text, params as Array<unknown>), "Failed to execute statement")
    return transformRows === undefined ? rows : Effect.map(rows, transformRows)
  }
  return {
    execute,
    executeUnprepared: execute,
    executeRaw: (text, params) => run(() => client.unsafe(text, params as Array<unknown>), "Failed to execute statement"),
    executeValues: (text, params) => run<ReadonlyArray<ReadonlyArray<unknown>>>(() => client.unsafe(text, params as Array<unknown>).values(), "Failed to execute statement"),
    // Bun.SQL has no cursors: the result is read whole, then streamed.
    executeStream: (text, params, transformRows) => Stream.fromIterableEffect(execute(text, params, transformRows))
  }
}

const PgJson = Statement.custom<PgClient.PgCustom>("PgJson")

/**
 * `PgClient` (and `SqlClient`) over Bun's own PostgreSQL driver: statements compile exactly as with
 * @effect/sql-pg and run on a `Bun.SQL` pool; a transaction holds a reserved connection. LISTEN
 * stays on `pg`: one connection per listener, and a lost connection fails its stream.
 */
export const make = (config: BunPgClientConfig) =>
  Effect.gen(function* () {
    const url = Redacted.value(config.url)
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new SQL(url, {
          max: config.maxConnections,
          // pg's pool closes a connection idle for 10 s; Bun's would keep all of them open for good.
          idleTimeout: 10,
          connection: { application_name: config.applicationName }
        })
      ),
      (pool) => Effect.promise(() => pool.close({ timeout: 1 }))
    )
    yield* run(() => pool.unsafe("select 1"), "BunPgClient: failed to connect").pipe(
      Effect.timeoutFail({
        duration: "5 seconds",
        onTimeout: () => new SqlError({ cause: new Error("Connection timed out"), message: "BunPgClient: connection timed out" })
      })
    )

    const reserve = Effect.acquireRelease(
      Effect.tryPromise({
        try: () => pool.reserve(),
        catch: (cause) => new SqlError({ cause, message: "Failed to acquire connection for transaction" })
      }),
      (reserved) => Effect.promise(() => reserved.release())
    ).pipe(Effect.map(makeConnection))

    const { hostname, port, username, database } = pool.options
    const client = yield* SqlClient.make({
      acquirer: Effect.succeed(makeConnection(pool)),
      transactionAcquirer: reserve,
      compiler: PgClient.makeCompiler(),
      spanAttributes: [
        ["db.system.name", "postgresql"],
        ["db.namespace", database ?? username ?? "postgres"],
        ["server.address", hostname ?? "localhost"],
        ["server.port", Number(port ?? 5432)]
      ]
    })

    const listen = (channel: string) =>
      Stream.asyncPush<string, SqlError>((emit) =>
        Effect.gen(function* () {
          const onNotification = (message: Pg.Notification) => {
            if (message.channel === channel && message.payload) emit.single(message.payload)
          }
          const onLost = (cause: unknown) => emit.fail(new SqlError({ cause, message: "LISTEN connection lost" }))
          const onEnd = () => onLost(new Error("the LISTEN connection ended"))
          const ignore = () => {}
          const listener = yield* Effect.acquireRelease(
            Effect.tryPromise({
              try: async () => {
                const listener = new Pg.Client({ connectionString: url, application_name: config.applicationName })
                listener.on("error", ignore)
                await listener.connect()
                return listener
              },
              catch: (cause) => new SqlError({ cause, message: "Failed to acquire connection for listen" })
            }),
            (listener) =>
              Effect.promise(() => {
                listener.off("notification", onNotification).off("error", onLost).off("end", onEnd)
                return listener.end()
              }).pipe(Effect.timeoutOption(1000))
          )
          listener.on("notification", onNotification).on("error", onLost).on("end", onEnd)
          yield* Effect.tryPromise({
            try: () => listener.query(`LISTEN ${Pg.escapeIdentifier(channel)}`),
            catch: (cause) => new SqlError({ cause, message: "Failed to listen" })
          })
        })
      )

    const pgClient: PgClient.PgClient = Object.assign(client, {
      [PgClient.TypeId]: PgClient.TypeId,
      config: {
        url: config.url,
        host: hostname,
        port: port === undefined ? undefined : Number(port),
        username,
        database,
        maxConnections: config.maxConnections,
        applicationName: config.applicationName
      },
      json: (value: unknown) => PgJson(value, undefined, undefined),
      listen,
      notify: (channel: string, payload: string) =>
        Effect.asVoid(run(() => pool.unsafe("select pg_notify($1, $2)", [channel, payload]), "Failed to notify"))
    })
    return pgClient
  })

export const layer = (config: BunPgClientConfig) =>
  Layer.scopedContext(
    Effect.map(make(config), (client) => Context.make(PgClient.PgClient, client).pipe(Context.add(SqlClient.SqlClient, client)))
  ).pipe(Layer.provide(Reactivity.layer))
