import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { Auth } from "../Auth/Auth.js"
import type { Principal } from "../Auth/Principal.js"
import { Conflict, Forbidden, NotFound } from "../Domain/Errors.js"
import type { UserId } from "../Domain/Ids.js"
import { type CreateUser, Me, User } from "../Domain/User.js"
import { decodeJsonRows, iso, jsonObject } from "../Sql/Json.js"
import { withDb } from "../Sql/Retry.js"
import { uniqueViolation } from "../Sql/Unique.js"

const userJson = (alias: string) =>
  jsonObject(alias, [
    "id", "login", "github_id", "email", "is_superuser", ["created_at", iso(`${alias}.created_at`)], ["updated_at", iso(`${alias}.updated_at`)]
  ])
const decodeUsers = decodeJsonRows(User)

/** The one owner of `users`. */
export class Users extends Effect.Service<Users>()("bugbots/Users", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const auth = yield* Auth

    const exists = (id: UserId) => sql`select 1 from users where id = ${id}`.pipe(withDb, Effect.map((rows) => rows.length > 0))

    const create = Effect.fn("Users.create")(function* (principal: Principal, input: CreateUser) {
      if (principal.type !== "user" || !principal.is_superuser) {
        return yield* Effect.fail(new Forbidden({ message: "only a superuser can create users" }))
      }
      const rows = yield* sql<{ json: string }>`
        with u as (insert into users ${sql.insert(input)} returning *) select ${sql.literal(userJson("u"))}::text as json from u`.pipe(
        uniqueViolation(() => new Conflict({ message: `user ${input.login} exists already` })),
        withDb
      )
      return (yield* decodeUsers(rows))[0]
    })

    const createToken = Effect.fn("Users.createToken")(function* (principal: Principal, userId: UserId, name: string) {
      const allowed = principal.type === "user" && (principal.is_superuser || principal.id === userId)
      if (!allowed) return yield* Effect.fail(new Forbidden({ message: "only a superuser or the user itself can create its tokens" }))
      if (!(yield* exists(userId))) return yield* Effect.fail(NotFound.of("user", userId))
      return yield* auth.issue({ user_id: userId }, name).pipe(withDb)
    })

    /** A superuser with this login, made or promoted (for the bootstrap token). In the caller's transaction. */
    const ensureSuperuser = (login: string) =>
      sql<{ id: UserId }>`
        insert into users (login, is_superuser) values (${login}, true)
        on conflict (login) do update set is_superuser = true
        returning id`.pipe(Effect.map((rows) => rows[0].id))

    /** A user with this login, made when missing (for demo data). */
    const ensure = (login: string, email: string | null) =>
      sql<{ id: UserId }>`
        insert into users (login, email) values (${login}, ${email})
        on conflict (login) do update set email = excluded.email returning id`.pipe(Effect.map((rows) => rows[0].id))

    const me = (principal: Principal) =>
      principal.type === "user"
        ? new Me({
            type: "user",
            id: principal.id,
            login: principal.login,
            is_superuser: principal.is_superuser,
            memberships: [...principal.roles].map(([village_id, role]) => ({ village_id, role }))
          })
        : new Me({
            type: "agent",
            id: principal.id,
            name: principal.name,
            is_superuser: false,
            memberships: [{ village_id: principal.village_id, role: "agent" as const }]
          })

    return { exists, create, createToken, ensureSuperuser, ensure, me } as const
  }),
  dependencies: [Auth.Default]
}) {}

