import type { SqlError } from "@effect/sql/SqlError"
import { SQL } from "bun"
import { Duration, Effect, Schedule } from "effect"
import { ServiceUnavailable } from "../Domain/Errors.js"

/** How long a client should wait before retrying after a 503. */
export const retryAfter = Duration.seconds(2)

/** Transient database trouble: exponential from 50 ms with jitter, each wait capped at 1 s, 4 retries. */
export const databaseRetry = Schedule.exponential("50 millis").pipe(
  Schedule.jittered,
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(1))),
  Schedule.intersect(Schedule.recurs(3))
)

/**
 * SQLSTATEs worth another try: the connection-exception class (08), the server shutting down or
 * starting (57P01-57P03), too many connections (53300), serialization failure and deadlock.
 */
const transientState = (state: string) =>
  state.startsWith("08") || state === "57P01" || state === "57P02" || state === "57P03" || state === "53300" ||
  state === "40001" || state === "40P01"

/** The SQLSTATE of an error the server reported (Bun.SQL's own errors carry none). */
export const sqlStateOf = (cause: unknown): string | undefined =>
  cause instanceof SQL.PostgresError ? cause.errno : undefined

/** Bun.SQL's own errors for a connection that was lost or could not be made. */
const connectionLost = new Set([
  "ERR_POSTGRES_CONNECTION_CLOSED",
  "ERR_POSTGRES_CONNECTION_FAILED",
  "ERR_POSTGRES_CONNECTION_REFUSED",
  "ERR_POSTGRES_CONNECTION_TIMEOUT",
  "ERR_POSTGRES_IDLE_TIMEOUT",
  "ERR_POSTGRES_LIFETIME_TIMEOUT"
])

/**
 * Whether another try may succeed. Classified by error class and code, never by message text: an
 * error the server reported is transient when its SQLSTATE says so (a terminated backend is 57P01);
 * an error of the driver itself when it is a lost, refused or timed-out connection. Anything else
 * (a misused driver, a programming error) is not.
 */
export const isTransient = (error: SqlError): boolean => {
  const state = sqlStateOf(error.cause)
  if (state !== undefined) return transientState(state)
  return error.cause instanceof SQL.PostgresError && connectionLost.has(error.cause.code)
}

const isSqlError = (u: unknown): u is SqlError =>
  typeof u === "object" && u !== null && "_tag" in u && (u as { _tag: unknown })._tag === "SqlError"

const isTransientSqlError = (u: unknown): u is SqlError => isSqlError(u) && isTransient(u)

const unavailable = () => new ServiceUnavailable({ message: "the database is unavailable; retry later" })

/**
 * The boundary between the database and the domain: transient failures are retried on
 * `databaseRetry` (built only once something failed), then surface as `ServiceUnavailable` (503 +
 * retry-after); any other `SqlError` is a bug of ours and becomes a defect (500). A transaction
 * whose connection died fails its COMMIT or ROLLBACK as a defect (@effect/sql): that too is a 503,
 * not retried, since a lost COMMIT may have committed.
 */
export const withDb = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError> | ServiceUnavailable, R> =>
  effect.pipe(
    Effect.catchIf(isTransientSqlError, () => Effect.retry(effect, { schedule: databaseRetry, while: isTransientSqlError })),
    Effect.catchAll((e): Effect.Effect<never, unknown> =>
      !isSqlError(e) ? Effect.fail(e) : isTransient(e) ? Effect.fail(unavailable()) : Effect.die(e)
    ),
    Effect.catchAllDefect((defect) => (isTransientSqlError(defect) ? Effect.fail(unavailable()) : Effect.die(defect)))
  ) as Effect.Effect<A, Exclude<E, SqlError> | ServiceUnavailable, R>
