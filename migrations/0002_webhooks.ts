import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
    -- The ledger of GitHub deliveries: stored before the 202, keyed by X-GitHub-Delivery so a
    -- redelivery is a no-op, and worked off by whichever instance claims the row first.
    create table webhook_deliveries (
      id text primary key,
      seq bigint generated always as identity unique,
      event text not null,
      action text,
      payload jsonb not null,
      status text not null check (status in ('pending', 'processing', 'processed', 'failed', 'ignored')),
      attempts integer not null default 0,
      -- pending: when the next attempt is due; processing: when the claim's lease runs out.
      next_attempt_at timestamptz,
      lease_token uuid,
      last_error text,
      request_id text,
      received_at timestamptz not null default now(),
      processed_at timestamptz,
      updated_at timestamptz not null default now()
    );
    create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at, seq)
      where status in ('pending', 'processing');
    create index webhook_deliveries_status_seq_idx on webhook_deliveries (status, seq);

    create table github_installations (
      id bigint primary key,
      village_id uuid references villages(id) on delete set null,
      account_id bigint,
      account_login text,
      account_type text,
      repository_selection text,
      suspended_at timestamptz,
      deleted_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create index github_installations_village_idx on github_installations (village_id);

    -- Which repos an installation covers; a removed repository keeps its repo and bugs.
    create table github_installation_repos (
      installation_id bigint not null references github_installations(id) on delete cascade,
      repo_id uuid not null references repos(id) on delete cascade,
      added_at timestamptz not null default now(),
      removed_at timestamptz,
      primary key (installation_id, repo_id)
    );
    create index github_installation_repos_repo_idx on github_installation_repos (repo_id);
  `)
})
