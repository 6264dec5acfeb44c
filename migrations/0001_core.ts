import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
    create type village_role as enum ('admin', 'maintainer', 'triager', 'operator');
    create type bug_status as enum ('open', 'triaged', 'assigned', 'in_progress', 'awaiting_verification', 'resolved', 'closed');
    create type bug_severity as enum ('critical', 'high', 'medium', 'low');

    create table users (
      id uuid primary key default gen_random_uuid(),
      login text not null unique,
      github_id bigint unique,
      email text,
      is_superuser boolean not null default false,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );

    create table villages (
      id uuid primary key default gen_random_uuid(),
      name text not null,
      github_org_id bigint unique,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );

    create table village_access (
      village_id uuid not null references villages(id) on delete cascade,
      user_id uuid not null references users(id) on delete cascade,
      role village_role not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (village_id, user_id)
    );
    create index village_access_user_idx on village_access (user_id);

    create table repos (
      id uuid primary key default gen_random_uuid(),
      village_id uuid not null references villages(id) on delete cascade,
      full_name text not null,
      github_repo_id bigint unique,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (village_id, full_name)
    );
    create index repos_village_created_idx on repos (village_id, created_at, id);

    create table agents (
      id uuid primary key default gen_random_uuid(),
      village_id uuid not null references villages(id) on delete cascade,
      name text not null,
      kind text,
      config jsonb not null default '{}'::jsonb,
      state text not null default 'active' check (state in ('active', 'paused')),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (village_id, name)
    );
    create index agents_village_created_idx on agents (village_id, created_at, id);

    -- Bearer tokens of users and agents: only the SHA-256 of the token is kept.
    create table api_tokens (
      id uuid primary key default gen_random_uuid(),
      token_hash bytea not null unique,
      name text not null,
      user_id uuid references users(id) on delete cascade,
      agent_id uuid references agents(id) on delete cascade,
      created_at timestamptz not null default now(),
      revoked_at timestamptz,
      check (num_nonnulls(user_id, agent_id) = 1)
    );
    create index api_tokens_user_idx on api_tokens (user_id);
    create index api_tokens_agent_idx on api_tokens (agent_id);

    create table bug_bots (
      id uuid primary key default gen_random_uuid(),
      village_id uuid not null references villages(id) on delete cascade,
      repo_id uuid not null references repos(id) on delete cascade,
      provider text not null check (provider in ('github', 'manual', 'report')),
      issue_id bigint,
      issue_number integer,
      title text not null,
      description text,
      status bug_status not null default 'open',
      severity bug_severity,
      severity_rank smallint generated always as (
        case severity when 'critical' then 0 when 'high' then 1 when 'medium' then 2 when 'low' then 3 else 4 end
      ) stored,
      category text,
      assigned_agent_id uuid references agents(id) on delete set null,
      source text not null check (source in ('webhook', 'manual', 'reconcile', 'report')),
      metadata jsonb not null default '{}'::jsonb,
      version integer not null default 1,
      lease_token uuid,
      lease_expires_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      resolved_at timestamptz,
      unique (provider, repo_id, issue_id)
    );
    -- Keyset pagination and filters of GET /villages/{id}/bugs.
    create index bug_bots_village_created_idx on bug_bots (village_id, created_at desc, id desc);
    create index bug_bots_village_status_created_idx on bug_bots (village_id, status, created_at desc, id desc);
    create index bug_bots_village_updated_idx on bug_bots (village_id, updated_at desc, id desc);
    create index bug_bots_village_severity_idx on bug_bots (village_id, severity_rank, created_at desc, id desc);
    create index bug_bots_repo_idx on bug_bots (repo_id, created_at desc, id desc);
    create index bug_bots_agent_idx on bug_bots (assigned_agent_id) where assigned_agent_id is not null;
    -- Claim order: most severe, then oldest, among claimable bugs.
    create index bug_bots_claimable_idx on bug_bots (village_id, severity_rank, created_at, id)
      where status in ('open', 'triaged');
    create index bug_bots_lease_expiry_idx on bug_bots (lease_expires_at) where lease_expires_at is not null;

    create table bug_bot_events (
      id uuid primary key default gen_random_uuid(),
      seq bigint generated always as identity unique,
      bug_id uuid not null references bug_bots(id) on delete cascade,
      kind text not null check (kind in ('created', 'edited', 'assigned', 'unassigned', 'status_changed', 'note', 'claimed', 'released', 'lease_expired')),
      actor_type text not null check (actor_type in ('user', 'agent', 'system')),
      actor_id uuid,
      from_status bug_status,
      to_status bug_status,
      note text,
      data jsonb not null default '{}'::jsonb,
      correlation_id text,
      created_at timestamptz not null default clock_timestamp()
    );
    create index bug_bot_events_bug_idx on bug_bot_events (bug_id, seq);

    create table agent_sessions (
      id uuid primary key default gen_random_uuid(),
      agent_id uuid not null references agents(id) on delete cascade,
      started_at timestamptz not null default now(),
      ended_at timestamptz
    );
    create index agent_sessions_agent_idx on agent_sessions (agent_id, started_at desc);

    create table work_stream_events (
      id uuid primary key default gen_random_uuid(),
      seq bigint generated always as identity unique,
      session_id uuid not null references agent_sessions(id) on delete cascade,
      agent_id uuid not null references agents(id) on delete cascade,
      bug_id uuid references bug_bots(id) on delete set null,
      type text not null,
      message text,
      data jsonb not null default '{}'::jsonb,
      correlation_id text,
      created_at timestamptz not null default clock_timestamp()
    );
    create index work_stream_events_session_idx on work_stream_events (session_id, seq);

    -- The durable log of realtime events: written in the same transaction as the change it
    -- describes; its id is the cursor WebSocket and RPC subscribers resume from.
    create table realtime_events (
      id bigint generated always as identity primary key,
      xid xid8 not null default pg_current_xact_id(),
      event text not null,
      rooms text[] not null,
      bug_id uuid,
      version integer,
      correlation_id text,
      data jsonb not null,
      created_at timestamptz not null default clock_timestamp()
    );
    create index realtime_events_rooms_idx on realtime_events using gin (rooms);
  `)
})
