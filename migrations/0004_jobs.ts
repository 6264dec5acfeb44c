import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * One jobs table for every kind of background work (GitHub deliveries today; bot actions,
 * analyses and notifications next): claimed under a lease with `FOR UPDATE SKIP LOCKED`, retried
 * with backoff, dead-lettered. The webhook delivery ledger becomes jobs of kind `github.delivery`,
 * keyed by delivery id and event; its rows move over as they are.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
    create table jobs (
      id uuid primary key default gen_random_uuid(),
      seq bigint generated always as identity unique,
      kind text not null,
      -- Deduplication within a kind (a GitHub delivery's id and event); null: none.
      key text,
      payload jsonb not null,
      -- Small fields shown when jobs are listed (the payload is not).
      meta jsonb not null default '{}'::jsonb,
      status text not null check (status in ('pending', 'running', 'done', 'failed', 'ignored')),
      attempts integer not null default 0,
      max_attempts integer not null check (max_attempts >= 1),
      -- pending: when it is due.
      run_at timestamptz,
      lease_token uuid,
      lease_expires_at timestamptz,
      last_error text,
      result jsonb,
      correlation_id text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      started_at timestamptz,
      finished_at timestamptz,
      unique (kind, key),
      check ((status = 'running') = (lease_token is not null))
    );
    create index jobs_due_idx on jobs (kind, run_at, seq) where status = 'pending';
    create index jobs_lease_idx on jobs (lease_expires_at) where status = 'running';
    create index jobs_kind_status_idx on jobs (kind, status, seq);
    create index jobs_github_delivery_idx on jobs ((meta ->> 'delivery_id')) where kind = 'github.delivery';

    insert into jobs (kind, key, payload, meta, status, attempts, max_attempts, run_at, last_error, correlation_id,
                      created_at, updated_at, finished_at)
    select 'github.delivery', event || ' ' || id, payload,
           jsonb_build_object('delivery_id', id, 'event', event, 'action', action),
           case status when 'processing' then 'pending' when 'processed' then 'done' else status end,
           attempts, greatest(attempts, 8),
           case when status in ('pending', 'processing') then coalesce(next_attempt_at, now()) end,
           last_error, request_id, received_at, updated_at, processed_at
    from webhook_deliveries order by seq;
    drop table webhook_deliveries;
  `)
})
