import { PgClient } from "@effect/sql-pg"
import { Cache, Duration, Effect, Exit, Redacted, Schema, Stream } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { AgentState } from "../Domain/Agent.js"
import { Unauthenticated } from "../Domain/Errors.js"
import { AgentId, TokenId, UserId, VillageId } from "../Domain/Ids.js"
import { IssuedToken, VillageRole } from "../Domain/User.js"
import { withDb } from "../Sql/Retry.js"
import type { Principal } from "./Principal.js"

const hash = (token: string) => createHash("sha256").update(token).digest()
const newToken = () => `bb_${randomBytes(32).toString("base64url")}`

const TokenRow = Schema.Struct({
  user_id: Schema.NullOr(UserId),
  agent_id: Schema.NullOr(AgentId),
  login: Schema.NullOr(Schema.String),
  is_superuser: Schema.NullOr(Schema.Boolean),
  memberships: Schema.Array(Schema.Struct({ village_id: VillageId, role: VillageRole })),
  agent_name: Schema.NullOr(Schema.String),
  agent_village_id: Schema.NullOr(VillageId),
  agent_state: Schema.NullOr(AgentState)
})
const decodeTokenRow = Schema.decodeUnknown(TokenRow)

/** The channel on which every instance hears that some principal's roles or state changed. */
const principalsChannel = "bugbots_principals"

/**
 * How long a principal is trusted from memory. A change is seen at once by the instance that made
 * it and by the others on NOTIFY; this bounds how stale a principal can be if a notification is lost.
 */
const principalTtl = Duration.seconds(5)

/**
 * The one owner of `api_tokens`: bearer tokens are opaque random strings, of which only the SHA-256
 * is stored. Authentication reads the principal behind a token (its user's roles, or its agent) in
 * one query, the one read across other capabilities' tables, and keeps it for `principalTtl`, since
 * every request pays it.
 */
export class Auth extends Effect.Service<Auth>()("bugbots/Auth", {
  scoped: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const unauthenticated = new Unauthenticated({ message: "missing, unknown or revoked bearer token" })

    const lookup = (tokenHash: string) => Effect.gen(function* () {
      const rows = yield* sql`
        select t.user_id, t.agent_id, u.login, u.is_superuser,
          coalesce((select json_agg(json_build_object('village_id', va.village_id, 'role', va.role))
                    from village_access va where va.user_id = u.id), '[]'::json) as memberships,
          a.name as agent_name, a.village_id as agent_village_id, a.state as agent_state
        from api_tokens t
        left join users u on u.id = t.user_id
        left join agents a on a.id = t.agent_id
        where t.token_hash = ${Buffer.from(tokenHash, "hex")} and t.revoked_at is null`.pipe(withDb)
      if (rows.length === 0) return yield* Effect.fail(unauthenticated)
      const row = yield* decodeTokenRow(rows[0]).pipe(Effect.orDie)
      if (row.agent_id !== null) {
        return {
          type: "agent",
          id: row.agent_id,
          name: row.agent_name!,
          village_id: row.agent_village_id!,
          state: row.agent_state!
        } satisfies Principal as Principal
      }
      return {
        type: "user",
        id: row.user_id!,
        login: row.login!,
        is_superuser: row.is_superuser!,
        roles: new Map(row.memberships.map((m) => [m.village_id, m.role]))
      } satisfies Principal as Principal
    })

    const principals = yield* Cache.makeWith({
      capacity: 10_000,
      lookup,
      // Only what was found is kept: an unknown token or a database outage is asked again next time.
      timeToLive: (exit) => (Exit.isSuccess(exit) ? principalTtl : Duration.zero)
    })

    const authenticate = Effect.fn("Auth.authenticate")(function* (token: string) {
      if (token.length === 0) return yield* Effect.fail(unauthenticated)
      return yield* principals.get(hash(token).toString("hex"))
    })

    /**
     * Call after a change of roles or agent state has committed: this instance forgets every
     * principal at once. The others hear of it by the NOTIFY the tables' triggers send at commit
     * (migration 0003), whoever wrote.
     */
    const principalsChanged = principals.invalidateAll

    yield* sql.listen(principalsChannel).pipe(
      Stream.runForEach(() => principals.invalidateAll),
      Effect.zipRight(principals.invalidateAll),
      Effect.catchAllCause((cause) => Effect.logWarning("LISTEN for principal changes stopped; listening again", cause)),
      Effect.zipRight(Effect.sleep("1 second")),
      Effect.forever,
      Effect.forkScoped
    )

    /** Issues a token; the caller applies `withDb`, once, around its whole transaction. */
    const issue = Effect.fn("Auth.issue")(function* (
      owner: { readonly user_id: UserId } | { readonly agent_id: AgentId },
      name: string
    ) {
      const token = newToken()
      const userId = "user_id" in owner ? owner.user_id : null
      const agentId = "agent_id" in owner ? owner.agent_id : null
      const [row] = yield* sql<{ id: string }>`
        insert into api_tokens (token_hash, name, user_id, agent_id)
        values (${hash(token)}, ${name}, ${userId}, ${agentId})
        returning id`
      return new IssuedToken({ id: TokenId.make(row.id), token })
    })

    /** Makes `token` (chosen by the operator, not issued) a live token of the user. In the caller's transaction. */
    const grant = (userId: UserId, token: Redacted.Redacted, name: string) =>
      sql`
        insert into api_tokens (token_hash, name, user_id)
        values (${hash(Redacted.value(token))}, ${name}, ${userId})
        on conflict (token_hash) do update set user_id = excluded.user_id, agent_id = null, revoked_at = null`.pipe(Effect.asVoid)

    return { authenticate, issue, grant, principalsChanged } as const
  })
}) {}
