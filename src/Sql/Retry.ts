import type { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Schedule } from "effect"
import { ServiceUnavailable } from "../Domain/Errors.js"

/** How long a client should wait before retrying after a 503. */
export const retryAfter = Duration.seconds(2)

/** Transient database trouble: exponential from 50 ms with jitter, each wait capped at 1 s, 5 tries. */
export const databaseRetry = Schedule.exponential("50 millis").pipe(
  Schedule.jittered,
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(1))),
  Schedule.intersect(Schedule.recurs(4))
)

const transientCodes = new Set(["40001", "40P01", "53300", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08006"])
const transientErrnos = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND"])

/** Connection loss, server shutdown, serialization failure or deadlock: worth another try. */
export const isTransient = (error: SqlError): boolean => {
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined
  const code = typeof cause?.code === "string" ? cause.code : ""
  if (transientCodes.has(code) || transientErrnos.has(code)) return true
  const message = typeof cause?.message === "string" ? cause.message : String(error.message)
  return /connection terminated|connection (refused|reset)|timeout exceeded when trying to connect|Connection terminated/i.test(message)
}

/**
 * The boundary between the database and the domain: transient failures are retried on
 * `databaseRetry`, then surface as `ServiceUnavailable` (503 + retry-after); any other `SqlError` is
 * a bug of ours and becomes a defect (500).
 */
export const withDb = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError> | ServiceUnavailable, R> =>
  effect.pipe(
    Effect.retry({ schedule: databaseRetry, while: (e) => isSqlError(e) && isTransient(e) }),
    Effect.catchAll((e): Effect.Effect<never, unknown> =>
      !isSqlError(e)
        ? Effect.fail(e)
        : isTransient(e)
        ? Effect.fail(new ServiceUnavailable({ message: "the database is unavailable; retry later" }))
        : Effect.die(e)
    )
  ) as Effect.Effect<A, Exclude<E, SqlError> | ServiceUnavailable, R>

const isSqlError = (u: unknown): u is SqlError =>
  typeof u === "object" && u !== null && "_tag" in u && (u as { _tag: unknown })._tag === "SqlError"
