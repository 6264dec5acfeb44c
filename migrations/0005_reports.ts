import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Error reports (contract §9): ingest keys and a numeric project id per repo, occurrences grouped
 * by fingerprint into report bugs, releases as first seen, the bug fields of reports and triage, and
 * a per-village SLA policy.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
    -- Sentry SDKs need a numeric project id in the DSN.
    alter table repos add column project_id bigint generated always as identity unique;

    alter table villages add column sla_seconds jsonb not null
      default '{"critical": 14400, "high": 86400, "medium": 259200, "low": 604800}'::jsonb;

    create table ingest_keys (
      id uuid primary key default gen_random_uuid(),
      repo_id uuid not null references repos(id) on delete cascade,
      name text not null,
      -- The public key of the DSN: only its SHA-256 is kept, like a bearer token's.
      key_hash bytea not null unique,
      key_prefix text not null,
      created_at timestamptz not null default now(),
      revoked_at timestamptz
    );
    create index ingest_keys_repo_idx on ingest_keys (repo_id, created_at);
    -- Instances keep ingest keys in memory for a few seconds: a revoked one is forgotten at commit.
    create trigger principals_changed after update or delete on ingest_keys
      for each statement execute function bugbots_principals_changed();

    alter table bug_bots
      add column occurrences integer not null default 0,
      add column first_seen timestamptz,
      add column last_seen timestamptz,
      add column last_release text,
      add column environment text,
      add column trace_id text,
      add column request_id text,
      add column release_sha text,
      add column sla_due_at timestamptz,
      add column resolution_notes text,
      add column commit_shas text[] not null default '{}',
      add column duplicate_of_id uuid references bug_bots(id) on delete set null,
      add column resolved_in_release text;
    create index bug_bots_trace_idx on bug_bots (trace_id) where trace_id is not null;
    create index bug_bots_sla_idx on bug_bots (village_id, sla_due_at) where status not in ('resolved', 'closed');

    alter table bug_bot_events drop constraint bug_bot_events_kind_check;
    alter table bug_bot_events add constraint bug_bot_events_kind_check check (kind in (
      'created', 'edited', 'assigned', 'unassigned', 'status_changed', 'note', 'claimed', 'released', 'lease_expired',
      'regressed', 'merged', 'unmerged'));

    -- Which bug a fingerprint's occurrences land on: many fingerprints to one bug, so a merge is learnt.
    create table fingerprints (
      repo_id uuid not null references repos(id) on delete cascade,
      fingerprint text not null,
      bug_id uuid not null references bug_bots(id) on delete cascade,
      components jsonb not null,
      created_at timestamptz not null default now(),
      primary key (repo_id, fingerprint)
    );
    create index fingerprints_bug_idx on fingerprints (bug_id);

    create table releases (
      repo_id uuid not null references repos(id) on delete cascade,
      version text not null,
      first_seen timestamptz not null default clock_timestamp(),
      primary key (repo_id, version)
    );

    create table occurrences (
      id uuid primary key default gen_random_uuid(),
      seq bigint generated always as identity unique,
      repo_id uuid not null references repos(id) on delete cascade,
      bug_id uuid not null references bug_bots(id) on delete cascade,
      event_id text not null,
      fingerprint text not null,
      received_at timestamptz not null default clock_timestamp(),
      occurred_at timestamptz,
      release text,
      environment text,
      trace_id text,
      request_id text,
      tags jsonb not null default '{}'::jsonb,
      event jsonb not null,
      -- Counted into its bug (occurrences, last_seen, ...) by the rollup, in batches.
      counted boolean not null default false,
      unique (repo_id, event_id)
    );
    create index occurrences_bug_idx on occurrences (bug_id, seq desc);
    create index occurrences_uncounted_idx on occurrences (seq) where not counted;
    create index occurrences_trace_idx on occurrences (trace_id) where trace_id is not null;
  `)
})
