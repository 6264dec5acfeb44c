import { PgClient } from "@effect/sql-pg"
import type { Fragment } from "@effect/sql/Statement"
import { Effect } from "effect"
import { bugStatusComment } from "../BotActions/BugComments.js"
import type { Bug, BugStatus } from "../Domain/Bug.js"
import type { Actor, LifecycleEntry } from "../Domain/BugLifecycle.js"
import type { RealtimeEventName } from "../Domain/Events.js"
import { insertJobsFrom } from "../Jobs/Jobs.js"

/**
 * Follow-up jobs of a bug change: work that a change decides (a comment on GitHub, a notification,
 * an analysis) enqueued in the very statement that writes the change, so it exists exactly when
 * the change committed. This is the extension point: a capability that reacts to bug changes adds
 * a `FollowUp` to the list in `BugFollowUps` below, and `BugsRepo` runs it on every insert and write.
 */

/** A bug change as a follow-up sees it; the bug as written is the CTE `b` (all columns of `bug_bots`). */
export interface BugChange {
  /** The bug before the change; null when the change creates it. */
  readonly before: Bug | null
  /** Where the status goes (the status it has when it does not move). */
  readonly status: BugStatus
  readonly entry: LifecycleEntry
  readonly event: RealtimeEventName
  readonly actor: Actor
  readonly correlationId: string | null
}

/**
 * What a change calls for: a `select` over `b` whose rows are the jobs to enqueue, with the columns
 * `insertJobsFrom` (Jobs.ts) takes (`kind, key, payload jsonb, meta jsonb, max_attempts, correlation_id`);
 * null when the change calls for nothing (decided here, in memory, so most changes add no SQL). A
 * select that yields no rows (a setting off) enqueues nothing. Keep them cheap: claims run them.
 */
export type FollowUp = (change: BugChange) => Fragment | null

export class BugFollowUps extends Effect.Service<BugFollowUps>()("bugbots/BugFollowUps", {
  effect: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const followUps: ReadonlyArray<FollowUp> = [yield* bugStatusComment]

    /** The CTEs (each `, name as (insert ...)`) that enqueue what `change` calls for, to append to its statement. */
    const ctes = (change: BugChange): ReadonlyArray<Fragment> =>
      followUps.flatMap((followUp, i) => {
        const select = followUp(change)
        return select === null ? [] : [sql`, ${sql.literal(`follow_up_${i}`)} as (${insertJobsFrom(sql, select)})`]
      })

    return { ctes } as const
  })
}) {}
