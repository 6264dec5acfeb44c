import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { sqlStateOf } from "./Retry.js"

const isUniqueViolation = (e: unknown): e is SqlError =>
  typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "SqlError" &&
  sqlStateOf((e as SqlError).cause) === "23505"

/** Turns a unique-constraint violation into the domain error `onConflict` makes. */
export const uniqueViolation =
  <E2>(onConflict: () => E2) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError> | E2 | Extract<E, SqlError>, R> =>
    Effect.catchIf(effect, isUniqueViolation, () => Effect.fail(onConflict())) as Effect.Effect<A, Exclude<E, SqlError> | E2 | Extract<E, SqlError>, R>
