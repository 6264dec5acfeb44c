import type { SqlError } from "@effect/sql/SqlError"
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

/** An error the server reported carries its SQLSTATE and a severity; the driver's own errors carry neither. */
const sqlStateOf = (cause: unknown): string | undefined => {
  if (typeof cause !== "object" || cause === null) return undefined
  const { code, severity } = cause as { code?: unknown; severity?: unknown }
  return typeof severity === "string" && typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/**
 * Whether another try may succeed. Classified by error class and SQLSTATE, never by message text:
 * an error the server reported is transient when its SQLSTATE says so; an error of the driver itself
 * (no SQLSTATE: a refused or reset socket, a connection the server ended, a pooled client left
 * unusable by one) is a connection failure, hence transient, unless it is a programming error.
 */
export const isTransient = (error: SqlError): boolean => {
  const cause = error.cause
  const state = sqlStateOf(cause)
  if (state !== undefined) return transientState(state)
  return cause instanceof Error && !(cause instanceof TypeError || cause instanceof RangeError || cause instanceof SyntaxError)
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
