import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Reconciler and missed-delivery recovery (contract §11): a run per repo and its counts, where each
 * repo's issue listing resumes (the `since` watermark and the ETag of its last answer), and the
 * deliveries recovery has asked GitHub to send again (each once).
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
    create table reconcile_runs (
      id uuid primary key default gen_random_uuid(),
      seq bigint generated always as identity unique,
      repo_id uuid not null references repos(id) on delete cascade,
      dry_run boolean not null,
      trigger text not null check (trigger in ('schedule', 'manual')),
      status text not null check (status in ('running', 'succeeded', 'failed', 'not_modified')),
      started_at timestamptz not null default now(),
      finished_at timestamptz,
      created integer not null default 0,
      updated integer not null default 0,
      resolved integer not null default 0,
      reopened integer not null default 0,
      unchanged integer not null default 0,
      planned jsonb not null default '[]',
      error text
    );
    create index reconcile_runs_repo on reconcile_runs (repo_id, seq desc);

    create table reconcile_cursors (
      repo_id uuid primary key references repos(id) on delete cascade,
      since timestamptz,
      etag text,
      etag_since timestamptz,
      last_success_at timestamptz
    );

    create table webhook_redeliveries (
      guid text primary key,
      github_delivery_id bigint not null,
      event text,
      requested_at timestamptz not null default now()
    );

    create table recovery_runs (
      id uuid primary key default gen_random_uuid(),
      dry_run boolean not null,
      started_at timestamptz not null default now(),
      finished_at timestamptz,
      checked integer not null default 0,
      missing integer not null default 0,
      redelivered integer not null default 0,
      error text
    );
  `)
})
