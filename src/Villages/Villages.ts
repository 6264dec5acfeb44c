import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import { Auth } from "../Auth/Auth.js"
import { type Action, authorize, canSee } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { defaultSlaPolicy, type SlaPolicy } from "../Domain/BugLifecycle.js"
import { Conflict, Forbidden, NotFound } from "../Domain/Errors.js"
import type { RepoId, UserId, VillageId } from "../Domain/Ids.js"
import { Membership, type VillageRole } from "../Domain/User.js"
import {
  type CreateRepo,
  type CreateVillage,
  Repo,
  RepoSettings,
  type UpdateRepoSettings,
  type UpdateVillageSettings,
  Village,
  VillageSettings
} from "../Domain/Village.js"
import { decodeJsonRows, iso, jsonObject } from "../Sql/Json.js"
import { pageByCreation } from "../Sql/Keyset.js"
import { withDb } from "../Sql/Retry.js"
import { uniqueViolation } from "../Sql/Unique.js"
import { Users } from "../Users/Users.js"

const villageJson = (alias: string) =>
  jsonObject(alias, ["id", "name", "github_org_id", ["created_at", iso(`${alias}.created_at`)], ["updated_at", iso(`${alias}.updated_at`)]])
const repoJson = (alias: string) =>
  jsonObject(alias, [
    "id", "village_id", "full_name", "github_repo_id", ["created_at", iso(`${alias}.created_at`)], ["updated_at", iso(`${alias}.updated_at`)]
  ])
const decodeVillages = decodeJsonRows(Village)
const decodeRepos = decodeJsonRows(Repo)
const settingsJson = (alias: string) =>
  jsonObject(alias, [["village_id", `${alias}.id`], "sla_seconds", "analyze_new_bugs", ["updated_at", iso(`${alias}.updated_at`)]])
const decodeSettings = decodeJsonRows(VillageSettings)
const repoSettingsJson = (alias: string) =>
  jsonObject(alias, [["repo_id", `${alias}.id`], "comment_on_issues", ["updated_at", iso(`${alias}.updated_at`)]])
const decodeRepoSettings = decodeJsonRows(RepoSettings)

/** A GitHub account or repository as a delivery names it. */
export interface UpstreamAccount {
  readonly id: number
  readonly name: string
}
export interface UpstreamRepository {
  readonly id: number
  readonly full_name: string
}

/**
 * The one owner of `villages`, `village_access` and `repos` (contract §3–4): villages are GitHub
 * accounts, repos their repositories. Created by people over REST, or provisioned from GitHub
 * deliveries (`provisionVillage`, `provisionRepo`).
 */
export class Villages extends Effect.Service<Villages>()("bugbots/Villages", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const users = yield* Users
    const auth = yield* Auth
    const villageSelect = sql.literal(`${villageJson("v")}::text as json`)
    const repoSelect = sql.literal(`${repoJson("r")}::text as json`)
    const settingsSelect = sql.literal(`${settingsJson("v")}::text as json`)

    const village = (rows: ReadonlyArray<{ json: string }>) => decodeVillages(rows).pipe(Effect.map((vs) => Option.fromNullable(vs[0])))
    const repo = (rows: ReadonlyArray<{ json: string }>) => decodeRepos(rows).pipe(Effect.map((rs) => Option.fromNullable(rs[0])))

    /** The village, or 404. */
    const find = (id: VillageId) =>
      sql<{ json: string }>`select ${villageSelect} from villages v where v.id = ${id}`.pipe(
        Effect.flatMap(village),
        withDb,
        Effect.flatMap(Option.match({ onNone: () => Effect.fail(NotFound.of("village", id)), onSome: Effect.succeed }))
      )

    const findRepo = (id: RepoId) => sql<{ json: string }>`select ${repoSelect} from repos r where r.id = ${id}`.pipe(Effect.flatMap(repo), withDb)

    const get = Effect.fn("Villages.get")(function* (principal: Principal, id: VillageId) {
      if (!canSee(principal, id)) return yield* Effect.fail(NotFound.of("village", id))
      return yield* find(id)
    })

    const create = Effect.fn("Villages.create")(function* (principal: Principal, input: CreateVillage) {
      if (principal.type !== "user") return yield* Effect.fail(new Forbidden({ message: "agents cannot create villages" }))
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const rows = yield* sql<{ json: string }>`
            with v as (insert into villages ${sql.insert({ name: input.name, github_org_id: input.github_org_id })} returning *),
            access as (insert into village_access (village_id, user_id, role) select v.id, ${principal.id}, 'admin' from v)
            select ${villageSelect} from v`
          return Option.getOrThrow(yield* village(rows))
        })
      ).pipe(
        uniqueViolation(() => new Conflict({ message: `a village for GitHub account ${input.github_org_id} exists already` })),
        withDb,
        Effect.tap(() => auth.principalsChanged)
      )
    })

    const list = Effect.fn("Villages.list")(function* (principal: Principal, limit: number, cursor: string | undefined) {
      const visible =
        principal.type === "agent"
          ? sql`t.id = ${principal.village_id}`
          : principal.is_superuser
          ? sql`true`
          : sql`t.id in (select village_id from village_access where user_id = ${principal.id})`
      return yield* pageByCreation(Village, "villages", villageJson("t"), visible, limit, cursor)
    })

    const setMember = Effect.fn("Villages.setMember")(function* (principal: Principal, id: VillageId, userId: UserId, role: VillageRole) {
      yield* authorize(principal, "manage_village", { villageId: id, resource: "village", resourceId: id })
      yield* find(id)
      if (!(yield* users.exists(userId))) return yield* Effect.fail(NotFound.of("user", userId))
      return yield* grant(id, userId, role).pipe(withDb, Effect.tap(() => auth.principalsChanged))
    })

    /** Gives the user `role` in the village (no authorization: callers decide). */
    const grant = (id: VillageId, userId: UserId, role: VillageRole) =>
      sql`
        insert into village_access (village_id, user_id, role) values (${id}, ${userId}, ${role})
        on conflict (village_id, user_id) do update set role = excluded.role, updated_at = now()`.pipe(
        Effect.as(new Membership({ village_id: id, user_id: userId, role }))
      )

    const removeMember = Effect.fn("Villages.removeMember")(function* (principal: Principal, id: VillageId, userId: UserId) {
      yield* authorize(principal, "manage_village", { villageId: id, resource: "village", resourceId: id })
      const removed = yield* sql`delete from village_access where village_id = ${id} and user_id = ${userId} returning user_id`.pipe(withDb)
      if (removed.length === 0) return yield* Effect.fail(NotFound.of("member", userId))
      yield* auth.principalsChanged
    })

    const createRepo = Effect.fn("Villages.createRepo")(function* (principal: Principal, id: VillageId, input: CreateRepo) {
      yield* authorize(principal, "manage_resources", { villageId: id, resource: "village", resourceId: id })
      yield* find(id)
      const rows = yield* sql<{ json: string }>`
        with r as (insert into repos ${sql.insert({ village_id: id, full_name: input.full_name, github_repo_id: input.github_repo_id })} returning *)
        select ${repoSelect} from r`.pipe(uniqueViolation(() => new Conflict({ message: `repo ${input.full_name} exists already` })), withDb)
      return Option.getOrThrow(yield* repo(rows))
    })

    const listRepos = Effect.fn("Villages.listRepos")(function* (principal: Principal, id: VillageId, limit: number, cursor: string | undefined) {
      yield* get(principal, id)
      return yield* pageByCreation(Repo, "repos", repoJson("t"), sql`t.village_id = ${id}`, limit, cursor)
    })

    /** The village of a GitHub account (user or organization), created on first sight. In the caller's transaction. */
    const provisionVillage = (account: UpstreamAccount) =>
      Effect.gen(function* () {
        const created = yield* sql<{ id: VillageId }>`
          insert into villages (name, github_org_id) values (${account.name}, ${account.id})
          on conflict (github_org_id) do nothing returning id`
        if (created.length > 0) return created[0].id
        const [row] = yield* sql<{ id: VillageId }>`select id from villages where github_org_id = ${account.id}`
        return row.id
      })

    /**
     * The repo of a GitHub repository: found by its id, else a repo of the owner's village with the
     * same name and no GitHub id yet (created by hand) is linked, else it is created. `Conflict`
     * when the name belongs to another GitHub repository. In the caller's transaction.
     */
    const provisionRepo = (repository: UpstreamRepository, owner: UpstreamAccount) =>
      Effect.gen(function* () {
        type Row = { id: RepoId; village_id: VillageId }
        const byId = sql<Row>`select id, village_id from repos where github_repo_id = ${repository.id}`
        const known = yield* byId
        if (known.length > 0) return known[0]
        const villageId = yield* provisionVillage(owner)
        const linked = yield* sql<Row>`
          update repos set github_repo_id = ${repository.id}, updated_at = now()
          where village_id = ${villageId} and full_name = ${repository.full_name} and github_repo_id is null
          returning id, village_id`
        if (linked.length > 0) return linked[0]
        const created = yield* sql<Row>`
          insert into repos (village_id, full_name, github_repo_id) values (${villageId}, ${repository.full_name}, ${repository.id})
          on conflict do nothing returning id, village_id`
        if (created.length > 0) return created[0]
        const raced = yield* byId
        if (raced.length > 0) return raced[0]
        return yield* new Conflict({ message: `repo ${repository.full_name} exists already for another GitHub repository than ${repository.id}` })
      })

    /** The repos of GitHub repositories, by their ids (those bugbots knows). */
    const reposOfGitHub = (ids: ReadonlyArray<number>) =>
      ids.length === 0 ? Effect.succeed([]) : sql<{ id: RepoId }>`select id from repos where github_repo_id in ${sql.in(ids)}`.pipe(
        Effect.map((rows) => rows.map((row) => row.id))
      )

    /** The numeric project id Sentry SDKs address a repo by (contract §9). */
    const projectOf = (id: RepoId) =>
      sql<{ project_id: string }>`select project_id::text from repos where id = ${id}`.pipe(
        withDb,
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (row) => Number(row.project_id)))
      )

    /** The repo a Sentry project id names, if any. */
    const repoOfProject = (projectId: number) =>
      sql<{ id: RepoId; village_id: VillageId }>`select id, village_id from repos where project_id = ${projectId}`.pipe(
        withDb,
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )

    /** The village's SLA policy: seconds to the deadline by severity (contract §9). */
    const slaPolicy = (id: VillageId) =>
      sql<{ sla_seconds: SlaPolicy }>`select sla_seconds from villages where id = ${id}`.pipe(
        withDb,
        Effect.map((rows) => rows[0]?.sla_seconds ?? defaultSlaPolicy)
      )

    const settingsOf = (rows: ReadonlyArray<{ json: string }>) =>
      decodeSettings(rows).pipe(Effect.map((found) => found[0]!))

    /** `GET /villages/{id}/settings`: to whoever can read the village. */
    const settings = Effect.fn("Villages.settings")(function* (principal: Principal, id: VillageId) {
      yield* authorize(principal, "read", { villageId: id, resource: "village", resourceId: id })
      yield* find(id)
      return yield* sql<{ json: string }>`select ${settingsSelect} from villages v where v.id = ${id}`.pipe(Effect.flatMap(settingsOf), withDb)
    })

    /**
     * `PUT /villages/{id}/settings` (admins): the severities named take their new value. Deadlines
     * already set stay as promised; bugs created or re-rated from now on follow the new policy.
     */
    const updateSettings = Effect.fn("Villages.updateSettings")(function* (principal: Principal, id: VillageId, update: UpdateVillageSettings) {
      yield* authorize(principal, "manage_village", { villageId: id, resource: "village", resourceId: id })
      yield* find(id)
      const sla = JSON.stringify(update.sla_seconds ?? {})
      return yield* sql<{ json: string }>`
        update villages v set sla_seconds = v.sla_seconds || ${sla}::text::jsonb,
          analyze_new_bugs = coalesce(${update.analyze_new_bugs ?? null}::boolean, v.analyze_new_bugs), updated_at = now()
        where v.id = ${id} returning ${settingsSelect}`.pipe(Effect.flatMap(settingsOf), withDb)
    })

    /** The repo, for one who may `action` on its village (404 for one who cannot see it). */
    const authorizedRepo = (principal: Principal, id: RepoId, action: Action) =>
      Effect.gen(function* () {
        const repo = yield* findRepo(id)
        if (Option.isNone(repo)) return yield* Effect.fail(NotFound.of("repo", id))
        yield* authorize(principal, action, { villageId: repo.value.village_id, resource: "repo", resourceId: id })
        return repo.value
      })

    const repoSettingsSelect = sql.literal(`${repoSettingsJson("r")}::text as json`)

    /** `GET /repos/{id}/settings`: to whoever can read the repo. */
    const repoSettings = Effect.fn("Villages.repoSettings")(function* (principal: Principal, id: RepoId) {
      yield* authorizedRepo(principal, id, "read")
      const rows = yield* sql<{ json: string }>`select ${repoSettingsSelect} from repos r where r.id = ${id}`.pipe(withDb)
      return (yield* decodeRepoSettings(rows))[0]!
    })

    /** `PUT /repos/{id}/settings` (admins, maintainers). */
    const updateRepoSettings = Effect.fn("Villages.updateRepoSettings")(function* (principal: Principal, id: RepoId, update: UpdateRepoSettings) {
      yield* authorizedRepo(principal, id, "manage_resources")
      const rows = yield* sql<{ json: string }>`
        update repos r set comment_on_issues = coalesce(${update.comment_on_issues ?? null}::boolean, r.comment_on_issues), updated_at = now()
        where r.id = ${id} returning ${repoSettingsSelect}`.pipe(withDb)
      return (yield* decodeRepoSettings(rows))[0]!
    })

    /** The village role of the user with GitHub account `githubUserId`, if bugbots knows them (a superuser counts as admin). */
    const roleOfGitHubUser = (villageId: VillageId, githubUserId: number) =>
      sql<{ role: VillageRole }>`
        select case when u.is_superuser then 'admin' else a.role end as role from users u
        left join village_access a on a.user_id = u.id and a.village_id = ${villageId}
        where u.github_id = ${githubUserId} and (u.is_superuser or a.role is not null)`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]?.role))
      )

    /** The village a repo belongs to, if the repo exists. */
    const villageOfRepo = (id: RepoId) => findRepo(id).pipe(Effect.map(Option.map((r) => r.village_id)))

    /** The ids of the village's repos (no authorization: callers decide). */
    const repoIdsOf = (id: VillageId) =>
      sql<{ id: RepoId }>`select id from repos where village_id = ${id}`.pipe(withDb, Effect.map((rows) => rows.map((row) => row.id)))

    return {
      find, findRepo, get, create, list, setMember, grant, removeMember, createRepo, listRepos, provisionVillage, provisionRepo, reposOfGitHub,
      villageOfRepo, slaPolicy, settings, updateSettings, projectOf, repoOfProject, authorizedRepo, repoSettings, updateRepoSettings, roleOfGitHubUser, repoIdsOf
    } as const
  }),
  dependencies: [Users.Default, Auth.Default]
}) {}
