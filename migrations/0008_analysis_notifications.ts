import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Analyses and notifications (contract §13). Analyses and notification deliveries are jobs (kinds
 * `bug.analysis` and `notification.delivery`): an analysis is found by its bug, a delivery by its
 * channel. A village may analyse every new bug. Notification channels belong to a village; a
 * channel's secret is kept sealed (AES-256-GCM under `BUGBOTS_SECRETS_KEY`), since signing needs the
 * secret itself, not a hash. An SLA breach is a row: the first instance to insert it notifies.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
    create index jobs_analysis_bug_idx on jobs ((meta ->> 'bug_id'), seq) where kind = 'bug.analysis';
    create index jobs_notification_channel_idx on jobs ((meta ->> 'channel_id')) where kind = 'notification.delivery';

    alter table villages add column analyze_new_bugs boolean not null default false;

    create table notification_channels (
      id uuid primary key default gen_random_uuid(),
      seq bigint generated always as identity unique,
      village_id uuid not null references villages(id) on delete cascade,
      kind text not null check (kind in ('webhook', 'slack', 'email')),
      target text not null,
      events text[] not null,
      -- iv || ciphertext || tag of the secret (AES-256-GCM); null: none.
      secret_sealed bytea,
      created_by uuid,
      created_at timestamptz not null default now()
    );
    create index notification_channels_village_idx on notification_channels (village_id, seq);

    -- One row per breach: a bug past the deadline it had then. Moving the deadline makes a new breach possible.
    create table sla_breaches (
      bug_id uuid not null references bug_bots(id) on delete cascade,
      sla_due_at timestamptz not null,
      noticed_at timestamptz not null default now(),
      primary key (bug_id, sla_due_at)
    );
  `)
})
