import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * GitHub out (contract §10). Bot actions are jobs of kind `github.action` (no table of their own);
 * this adds what they are decided from: a repo's `comment_on_issues`, the pull-request gate's
 * settings per repo, and its challenges per pull request.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
    alter table repos add column comment_on_issues boolean not null default false;

    create table pr_gates (
      repo_id uuid primary key references repos(id) on delete cascade,
      enabled boolean not null default false,
      deadline_hours integer not null default 72 check (deadline_hours between 1 and 8760),
      allowlist text[] not null default '{}',
      exempt_drafts boolean not null default true,
      message text,
      updated_at timestamptz not null default now()
    );

    create table pr_challenges (
      repo_id uuid not null references repos(id) on delete cascade,
      number integer not null,
      installation_id bigint,
      repo_full_name text not null,
      author text not null,
      status text not null check (status in ('PENDING', 'VERIFIED', 'EXEMPT', 'EXPIRED', 'CLOSED')),
      deadline_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (repo_id, number)
    );
    create index pr_challenges_due_idx on pr_challenges (deadline_at) where status = 'PENDING';

    -- Jobs of one series (meta.serial: a bot action's repo, number and marker) run one at a time.
    create index jobs_serial_idx on jobs (kind, (meta ->> 'serial'), seq) where status in ('pending', 'running');
  `)
})
