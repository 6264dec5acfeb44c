import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Instances keep authenticated principals in memory for a few seconds (`Auth.ts`). Whatever changes
 * what a principal may do — a token revoked or deleted, a membership, an agent's state, a user's
 * superuser flag — tells every instance at commit, whoever made the change (the service or an
 * operator with psql).
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
    create function bugbots_principals_changed() returns trigger language plpgsql as $$
    begin
      -- A payload is needed: @effect/sql-pg's LISTEN drops empty ones.
      perform pg_notify('bugbots_principals', tg_table_name);
      return null;
    end $$;

    create trigger principals_changed after update or delete on api_tokens
      for each statement execute function bugbots_principals_changed();
    create trigger principals_changed after insert or update or delete on village_access
      for each statement execute function bugbots_principals_changed();
    create trigger principals_changed after update of state, village_id or delete on agents
      for each statement execute function bugbots_principals_changed();
    create trigger principals_changed after update of is_superuser, login or delete on users
      for each statement execute function bugbots_principals_changed();

    -- Unused since the relay settles holes by its writers' locks.
    alter table realtime_events drop column xid;
  `)
})
