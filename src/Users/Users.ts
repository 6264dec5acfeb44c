import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import { Auth } from "../Auth/Auth.js"
import type { Principal } from "../Auth/Principal.js"
import { Conflict, Forbidden, NotFound } from "../Domain/Errors.js"
import type { UserId } from "../Domain/Ids.js"
import { User } from "../Domain/User.js"
import { withDb } from "../Sql/Retry.js"
import { uniqueViolation } from "../Sql/Unique.js"
import { Me } from "./Api.js"

const decodeUser = Schema.decodeUnknown(User)

export class Users extends Effect.Service<Users>()("bugbots/Users", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const auth = yield* Auth

    const create = Effect.fn("Users.create")(function* (
      principal: Principal,
      input: { readonly login: string; readonly github_id: number | null; readonly email: string | null; readonly is_superuser: boolean }
    ) {
      if (principal.type !== "user" || !principal.is_superuser) {
        return yield* Effect.fail(new Forbidden({ message: "only a superuser can create users" }))
      }
      const [row] = yield* sql`insert into users ${sql.insert(input)} returning *`.pipe(
        uniqueViolation(() => new Conflict({ message: `user ${input.login} exists already` })),
        withDb
      )
      return yield* decodeUser(row).pipe(Effect.orDie)
    })

    const createToken = Effect.fn("Users.createToken")(function* (principal: Principal, userId: UserId, name: string) {
      const allowed = principal.type === "user" && (principal.is_superuser || principal.id === userId)
      if (!allowed) return yield* Effect.fail(new Forbidden({ message: "only a superuser or the user itself can create its tokens" }))
      const exists = yield* sql`select 1 from users where id = ${userId}`.pipe(withDb)
      if (exists.length === 0) return yield* Effect.fail(NotFound.of("user", userId))
      return yield* auth.issue({ user_id: userId }, name).pipe(withDb)
    })

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

    return { create, createToken, me } as const
  }),
  dependencies: [Auth.Default]
}) {}
