import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import { authorize, canSee } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { Conflict, Forbidden, NotFound } from "../Domain/Errors.js"
import type { UserId, VillageId } from "../Domain/Ids.js"
import { Membership, type VillageRole } from "../Domain/User.js"
import { Repo, Village } from "../Domain/Village.js"
import { pageByCreation } from "../Sql/Keyset.js"
import { withDb } from "../Sql/Retry.js"
import { uniqueViolation } from "../Sql/Unique.js"

const decodeVillage = Schema.decodeUnknown(Village)
const decodeRepo = Schema.decodeUnknown(Repo)

/** Villages, their members and repos (contract §3–4). */
export class Villages extends Effect.Service<Villages>()("bugbots/Villages", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    const find = (id: VillageId) =>
      sql`select * from villages where id = ${id}`.pipe(
        withDb,
        Effect.flatMap((rows) => (rows.length === 0 ? Effect.fail(NotFound.of("village", id)) : decodeVillage(rows[0]).pipe(Effect.orDie)))
      )

    const get = Effect.fn("Villages.get")(function* (principal: Principal, id: VillageId) {
      if (!canSee(principal, id)) return yield* Effect.fail(NotFound.of("village", id))
      return yield* find(id)
    })

    const create = Effect.fn("Villages.create")(function* (
      principal: Principal,
      input: { readonly name: string; readonly github_org_id: number | null }
    ) {
      if (principal.type !== "user") return yield* Effect.fail(new Forbidden({ message: "agents cannot create villages" }))
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const [row] = yield* sql`insert into villages ${sql.insert(input)} returning *`
          const village = yield* decodeVillage(row).pipe(Effect.orDie)
          yield* sql`insert into village_access ${sql.insert({ village_id: village.id, user_id: principal.id, role: "admin" })}`
          return village
        })
      ).pipe(uniqueViolation(() => new Conflict({ message: `a village for GitHub account ${input.github_org_id} exists already` })), withDb)
    })

    const list = Effect.fn("Villages.list")(function* (principal: Principal, limit: number, cursor: string | undefined) {
      const visible =
        principal.type === "agent"
          ? sql`id = ${principal.village_id}`
          : principal.is_superuser
          ? sql`true`
          : sql`id in (select village_id from village_access where user_id = ${principal.id})`
      return yield* pageByCreation(Village, "villages", visible, limit, cursor)
    })

    const setMember = Effect.fn("Villages.setMember")(function* (principal: Principal, id: VillageId, userId: UserId, role: VillageRole) {
      yield* authorize(principal, "manage_village", { villageId: id, resource: "village", resourceId: id })
      yield* find(id)
      const user = yield* sql`select 1 from users where id = ${userId}`.pipe(withDb)
      if (user.length === 0) return yield* Effect.fail(NotFound.of("user", userId))
      yield* sql`
        insert into village_access (village_id, user_id, role) values (${id}, ${userId}, ${role})
        on conflict (village_id, user_id) do update set role = excluded.role, updated_at = now()`.pipe(withDb)
      return new Membership({ village_id: id, user_id: userId, role })
    })

    const removeMember = Effect.fn("Villages.removeMember")(function* (principal: Principal, id: VillageId, userId: UserId) {
      yield* authorize(principal, "manage_village", { villageId: id, resource: "village", resourceId: id })
      const removed = yield* sql`delete from village_access where village_id = ${id} and user_id = ${userId} returning user_id`.pipe(withDb)
      if (removed.length === 0) return yield* Effect.fail(NotFound.of("member", userId))
    })

    const createRepo = Effect.fn("Villages.createRepo")(function* (
      principal: Principal,
      id: VillageId,
      input: { readonly full_name: string; readonly github_repo_id: number | null }
    ) {
      yield* authorize(principal, "manage_resources", { villageId: id, resource: "village", resourceId: id })
      yield* find(id)
      const [row] = yield* sql`insert into repos ${sql.insert({ village_id: id, ...input })} returning *`.pipe(
        uniqueViolation(() => new Conflict({ message: `repo ${input.full_name} exists already` })),
        withDb
      )
      return yield* decodeRepo(row).pipe(Effect.orDie)
    })

    const listRepos = Effect.fn("Villages.listRepos")(function* (principal: Principal, id: VillageId, limit: number, cursor: string | undefined) {
      yield* get(principal, id)
      return yield* pageByCreation(Repo, "repos", sql`village_id = ${id}`, limit, cursor)
    })

    return { find, get, create, list, setMember, removeMember, createRepo, listRepos } as const
  })
}) {}
