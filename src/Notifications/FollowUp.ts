import { PgClient } from "@effect/sql-pg"
import type { Fragment } from "@effect/sql/Statement"
import { Effect } from "effect"
import type { BugChange, FollowUp } from "../Bugs/FollowUps.js"
import { AppConfig } from "../Config.js"
import { isTerminal } from "../Domain/Bug.js"
import type { NotificationEvent } from "../Domain/Notification.js"
import { iso } from "../Sql/Json.js"

/** The job kind of a notification delivery: one per channel and event; its meta names the channel, the event and the bug. */
export const deliveryKind = "notification.delivery"

/** The bug as a notification carries it, built by PostgreSQL from a `bug_bots` row (alias `b`). */
export const bugSummary = (alias: string) =>
  `jsonb_build_object(${[
    "id", "village_id", "repo_id", "title", "status", "severity", "category", "source", "version", "occurrences", "assigned_agent_id", "last_release"
  ].map((column) => `'${column}', ${alias}.${column}`).join(", ")}, 'sla_due_at', ${iso(`${alias}.sla_due_at`)})`

/**
 * The delivery jobs of `event` for the bugs `rows` yields (columns `id`, `village_id`, `tag`, a
 * `summary` jsonb), one per channel of the bug's village that listens to it: a `select` for the jobs
 * engine's insert, run in the statement that decided it. `tag` makes the key, so the same change or
 * breach never notifies a channel twice.
 */
export const deliveriesFor = (
  sql: PgClient.PgClient,
  maxAttempts: number,
  event: NotificationEvent,
  rows: Fragment,
  correlationId: string | null
) =>
  sql`
    select ${deliveryKind}::text as kind, c.id || ' ' || ${event}::text || ' ' || x.id || ' ' || x.tag as key,
      jsonb_build_object('event', ${event}::text, 'occurred_at', ${sql.literal(iso("now()"))}, 'bug', x.summary) as payload,
      jsonb_build_object('channel_id', c.id, 'village_id', c.village_id, 'kind', c.kind, 'event', ${event}::text, 'bug_id', x.id) as meta,
      ${maxAttempts}::int as max_attempts, ${correlationId}::text as correlation_id
    from (${rows}) x join notification_channels c on c.village_id = x.village_id and ${event}::text = any(c.events)`

/**
 * The events a bug change notifies (contract §13), decided in memory; `critical` is checked in SQL
 * on the written row (`b`), since only it knows the severity a change ends with.
 * - `bug_created`: the change creates the bug;
 * - `critical_bug`: it is created critical, or an edit raises it to critical;
 * - `regression`: an error report reopens it;
 * - `bug_resolved`: it enters `resolved` or `closed` (an imported report created settled is not news).
 */
const eventsOf = (change: BugChange): ReadonlyArray<readonly [NotificationEvent, "any" | "critical"]> => {
  const events: Array<readonly [NotificationEvent, "any" | "critical"]> = []
  if (change.before === null) events.push(["bug_created", "any"])
  if ((change.before === null || change.entry.kind === "edited") && change.before?.severity !== "critical") events.push(["critical_bug", "critical"])
  if (change.entry.kind === "regressed") events.push(["regression", "any"])
  if (change.before !== null && isTerminal(change.status) && !isTerminal(change.before.status)) events.push(["bug_resolved", "any"])
  return events
}

/** Notification deliveries as follow-up jobs of a bug change: one per listening channel of the bug's village and event. */
export const notificationFollowUp = Effect.gen(function* () {
  const sql = yield* PgClient.PgClient
  const config = yield* AppConfig
  const rows = (only: "any" | "critical"): Fragment =>
    sql`select b.id, b.village_id, b.version::text as tag, ${sql.literal(bugSummary("b"))} as summary from b
        ${only === "critical" ? sql`where b.severity = 'critical'` : sql``}`
  const followUp: FollowUp = (change) => {
    const events = eventsOf(change)
    if (events.length === 0) return null
    return events
      .map(([event, only]) => deliveriesFor(sql, config.notificationMaxAttempts, event, rows(only), change.correlationId))
      .reduce((all, select) => sql`${all} union all ${select}`)
  }
  return followUp
})
