import { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import type { BugChange, FollowUp } from "../Bugs/FollowUps.js"
import { AppConfig } from "../Config.js"
import { actionKind } from "./BotActions.js"

/** The statuses whose entry is told on the issue (contract §10), besides a claim. */
const told = new Set(["awaiting_verification", "resolved", "closed"])

/** Whether a change of a bug is one its GitHub issue hears of: a claim, `awaiting_verification`, a resolution. */
const isTold = (change: BugChange) =>
  change.before !== null &&
  change.before.provider === "github" &&
  change.before.issue_number !== null &&
  (change.entry.kind === "claimed" || (change.status !== change.before.status && told.has(change.status)))

/**
 * Bug status back to GitHub (contract §10): when the repo has `comment_on_issues`, a claim,
 * `awaiting_verification` or a resolution of a bug from a GitHub issue upserts one comment on the
 * issue (marker `bug`) with the bug's status and agent, through the outbox, in the change's
 * statement. Read from the repo's setting, its live installation and the agent, all in SQL: with the
 * setting off, or no installation, the select yields nothing.
 */
export const bugStatusComment = Effect.gen(function* () {
  const sql = yield* PgClient.PgClient
  const config = yield* AppConfig
  const followUp: FollowUp = (change) =>
    !isTold(change)
      ? null
      : sql`
          select ${actionKind} as kind, null::text as key,
            jsonb_build_object('type', 'UPSERT_ISSUE_COMMENT', 'installation_id', i.installation_id, 'repo_full_name', r.full_name,
              'number', b.issue_number, 'marker', 'bug',
              'body', '<!-- bugbots:bug -->' || chr(10) || '**bugbots** · status: ' || chr(96) || b.status || chr(96)
                || coalesce(' · agent: ' || chr(96) || a.name || chr(96), '')
                || case when b.resolution_notes is not null and b.status in ('resolved', 'closed') then chr(10) || chr(10) || b.resolution_notes else '' end
            ) as payload,
            jsonb_build_object('type', 'UPSERT_ISSUE_COMMENT', 'repo_full_name', r.full_name, 'number', b.issue_number, 'marker', 'bug',
              'bug_id', b.id, 'bug_version', b.version, 'serial', r.full_name || '#' || b.issue_number || ':bug') as meta,
            ${config.botActionMaxAttempts}::int as max_attempts, ${change.correlationId}::text as correlation_id
          from b
          join repos r on r.id = b.repo_id and r.comment_on_issues
          join lateral (
            select gir.installation_id from github_installation_repos gir
            join github_installations gi on gi.id = gir.installation_id and gi.deleted_at is null
            where gir.repo_id = b.repo_id and gir.removed_at is null
            order by gir.added_at desc limit 1) i on true
          left join agents a on a.id = b.assigned_agent_id`
  return followUp
})
