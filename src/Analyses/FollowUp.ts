import { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import type { FollowUp } from "../Bugs/FollowUps.js"

/** The job kind of an analysis; its key is the analysis id, its meta names the bug. */
export const analysisKind = "bug.analysis"
/** Attempts of an analysis job (each tries every provider; only a failure of our own, like the database, retries). */
export const analysisMaxAttempts = 3

/**
 * A new bug of a village with `analyze_new_bugs` gets an analysis (contract §13), enqueued in the
 * statement that creates it; with the setting off the select yields nothing.
 */
export const analysisFollowUp = Effect.gen(function* () {
  const sql = yield* PgClient.PgClient
  const followUp: FollowUp = (change) =>
    change.before !== null
      ? null
      : sql`
          select ${analysisKind}::text as kind, gen_random_uuid()::text as key, jsonb_build_object('bug_id', b.id) as payload,
            jsonb_build_object('bug_id', b.id, 'village_id', b.village_id) as meta, ${analysisMaxAttempts}::int as max_attempts,
            ${change.correlationId}::text as correlation_id
          from b join villages v on v.id = b.village_id and v.analyze_new_bugs`
  return followUp
})
