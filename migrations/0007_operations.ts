import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Operations (contract §12): a heartbeat row per running instance, and the indexes behind the
 * admin status (job durations of the last minutes) and village stats (resolutions by time, open
 * bugs by severity, recent occurrences by repo).
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
    create table instances (
      id uuid primary key,
      host text not null,
      pid integer not null,
      version text not null,
      started_at timestamptz not null,
      heartbeat_at timestamptz not null,
      -- Set when the instance stopped gracefully; a crashed one just stops heartbeating.
      stopped_at timestamptz,
      ws_connections integer not null default 0
    );
    create index instances_heartbeat_idx on instances (heartbeat_at);

    create index jobs_finished_idx on jobs (kind, finished_at) where finished_at is not null;

    create index bug_bots_village_resolved_idx on bug_bots (village_id, resolved_at) where resolved_at is not null;
    create index bug_bots_village_open_severity_idx on bug_bots (village_id, severity_rank)
      where status not in ('resolved', 'closed');
    create index occurrences_repo_received_idx on occurrences (repo_id, received_at);
  `)
})
