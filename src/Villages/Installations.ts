import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import type { RepoId, VillageId } from "../Domain/Ids.js"
import type { Principal } from "../Auth/Principal.js"
import { GitHubAppStatus } from "../Domain/Village.js"
import { decodeJsonRows, iso } from "../Sql/Json.js"
import { withDb } from "../Sql/Retry.js"

const decodeStatus = decodeJsonRows(GitHubAppStatus)
import { type UpstreamAccount, type UpstreamRepository, Villages } from "./Villages.js"

/** A GitHub App installation as its deliveries describe it. */
export interface Installation {
  readonly id: number
  readonly account: UpstreamAccount & { readonly type: string | null }
  readonly repository_selection: string | null
  readonly suspended_at: string | null
}

/** A repo with the installation that covers it. */
export interface InstalledRepo {
  readonly id: RepoId
  readonly village_id: VillageId
  readonly full_name: string
  readonly installation_id: number
}

/**
 * The one owner of `github_installations` and `github_installation_repos`: which installation of
 * the GitHub App covers which repos, kept by `installation` and `installation_repositories`
 * deliveries (contract §6). Every method runs in the caller's transaction.
 */
export class Installations extends Effect.Service<Installations>()("bugbots/Installations", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const villages = yield* Villages

    /** Records the installation (and its account's village); its village. */
    const record = (inst: Installation) =>
      Effect.gen(function* () {
        const villageId = yield* villages.provisionVillage(inst.account)
        yield* sql`
          insert into github_installations (id, village_id, account_id, account_login, account_type, repository_selection, suspended_at)
          values (${inst.id}, ${villageId}, ${inst.account.id}, ${inst.account.name}, ${inst.account.type},
                  ${inst.repository_selection}, ${inst.suspended_at})
          on conflict (id) do update set
            village_id = excluded.village_id, account_id = excluded.account_id, account_login = excluded.account_login,
            account_type = excluded.account_type,
            repository_selection = coalesce(excluded.repository_selection, github_installations.repository_selection),
            updated_at = now()`
        return villageId
      })

    const link = (installationId: number, repoId: RepoId) =>
      sql`
        insert into github_installation_repos (installation_id, repo_id) values (${installationId}, ${repoId})
        on conflict (installation_id, repo_id) do update set removed_at = null`

    /** Repositories in id order, so concurrent deliveries take their row locks in the same order. */
    const addRepos = (inst: Installation, repositories: ReadonlyArray<UpstreamRepository>) =>
      Effect.forEach(
        [...repositories].sort((a, b) => a.id - b.id),
        (repository) => villages.provisionRepo(repository, inst.account).pipe(Effect.flatMap((repo) => link(inst.id, repo.id))),
        { discard: true }
      )

    const created = (inst: Installation, repositories: ReadonlyArray<UpstreamRepository>) =>
      record(inst).pipe(
        Effect.zipRight(sql`update github_installations set deleted_at = null, suspended_at = ${inst.suspended_at} where id = ${inst.id}`),
        Effect.zipRight(addRepos(inst, repositories))
      )

    const deleted = (inst: Installation) =>
      record(inst).pipe(Effect.zipRight(sql`update github_installations set deleted_at = now(), updated_at = now() where id = ${inst.id}`))

    const suspended = (inst: Installation) =>
      record(inst).pipe(
        Effect.zipRight(sql`
          update github_installations set suspended_at = coalesce(${inst.suspended_at}::timestamptz, now()), updated_at = now()
          where id = ${inst.id}`)
      )

    const unsuspended = (inst: Installation) =>
      record(inst).pipe(Effect.zipRight(sql`update github_installations set suspended_at = null, updated_at = now() where id = ${inst.id}`))

    const reposAdded = (inst: Installation, repositories: ReadonlyArray<UpstreamRepository>) =>
      record(inst).pipe(Effect.zipRight(addRepos(inst, repositories)))

    /** A removed repository keeps its repo and bugs: only the link is marked. */
    const reposRemoved = (inst: Installation, githubRepoIds: ReadonlyArray<number>) =>
      Effect.gen(function* () {
        yield* record(inst)
        const repos = yield* villages.reposOfGitHub(githubRepoIds)
        if (repos.length === 0) return
        yield* sql`
          update github_installation_repos set removed_at = now()
          where installation_id = ${inst.id} and removed_at is null and repo_id in ${sql.in(repos)}`
      })

    /**
     * The repo of a repository named by any delivery, provisioned when new; with an installation
     * id, linked to that installation (recorded from the repository's owner if unknown).
     */
    const repositoryOf = (repository: UpstreamRepository, owner: UpstreamAccount & { readonly type: string | null }, installationId: number | undefined) =>
      Effect.gen(function* () {
        const repo: { readonly id: RepoId; readonly village_id: VillageId } = yield* villages.provisionRepo(repository, owner)
        if (installationId !== undefined) {
          yield* sql`
            with installation as (
              insert into github_installations (id, village_id, account_id, account_login, account_type)
              values (${installationId}, ${repo.village_id}, ${owner.id}, ${owner.name}, ${owner.type})
              on conflict (id) do nothing)
            insert into github_installation_repos (installation_id, repo_id) values (${installationId}, ${repo.id})
            on conflict (installation_id, repo_id) do update set removed_at = null
              where github_installation_repos.removed_at is not null`
        }
        return repo
      })

    /** Repos an active (not deleted, not suspended) installation covers now, with it; `repoId` narrows to one. */
    const installedRepos = (repoId?: RepoId) =>
      sql<InstalledRepo>`
        select r.id, r.village_id, r.full_name, i.id as installation_id
        from github_installation_repos ir
        join github_installations i on i.id = ir.installation_id
        join repos r on r.id = ir.repo_id
        where ir.removed_at is null and i.deleted_at is null and i.suspended_at is null
          ${repoId === undefined ? sql`` : sql`and r.id = ${repoId}`}
        order by r.id`.pipe(Effect.map((rows) => rows.map((row) => ({ ...row, installation_id: Number(row.installation_id) }))))

    /**
     * The App's installation on a repo, as deliveries left it (contract §10): the live link if
     * there is one, else the latest. JSON built by PostgreSQL.
     */
    const statusOf = (repoId: RepoId) =>
      sql<{ json: string }>`
        select json_build_object(
          'repo_id', ${repoId}::uuid,
          'installed', l.installation_id is not null and l.removed_at is null and i.deleted_at is null,
          'installation_id', i.id, 'account_login', i.account_login,
          'suspended', coalesce(i.suspended_at is not null, false),
          'removed', coalesce(l.removed_at is not null or i.deleted_at is not null, false),
          'updated_at', ${sql.literal(iso("greatest(i.updated_at, l.added_at, l.removed_at)"))})::text as json
        from (select 1) one
        left join lateral (
          select * from github_installation_repos where repo_id = ${repoId}
          order by removed_at is null desc, added_at desc limit 1) l on true
        left join github_installations i on i.id = l.installation_id`

    /** The installation that can act on a repo now (linked, not removed, deleted or suspended), if any. */
    const liveInstallation = (repoId: RepoId) =>
      sql<{ id: string }>`
        select l.installation_id::text as id from github_installation_repos l
        join github_installations i on i.id = l.installation_id and i.deleted_at is null and i.suspended_at is null
        where l.repo_id = ${repoId} and l.removed_at is null
        order by l.added_at desc limit 1`.pipe(Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (row) => Number(row.id))))

    /** `GET /api/v1/repos/{id}/github-app-status`: to readers of the repo. */
    const appStatus = Effect.fn("Installations.appStatus")(function* (principal: Principal, repoId: RepoId) {
      yield* villages.authorizedRepo(principal, repoId, "read")
      return (yield* decodeStatus(yield* statusOf(repoId).pipe(withDb)))[0]!
    })

    return { created, deleted, suspended, unsuspended, reposAdded, reposRemoved, repositoryOf, appStatus, installedRepos, liveInstallation } as const
  }),
  dependencies: [Villages.Default]
}) {}
