import { SqlClient } from "@effect/sql"
import { Data, Effect, Schema } from "effect"
import { type Change, Bugs, systemActor } from "../Bugs/Bugs.js"
import type { BugPatch, LifecycleEntry } from "../Bugs/BugsRepo.js"
import { type Bug, type BugStatus, transitions } from "../Domain/Bug.js"
import type { BugId } from "../Domain/Ids.js"
import {
  type Account,
  accountName,
  type Installation,
  InstallationEvent,
  InstallationRepositoriesEvent,
  type Issue,
  IssuesEvent,
  type Repository,
  type RepositoryRef,
  severityOf,
  statusForAction
} from "./GitHub.js"

/** A payload that can never be applied as it is (retrying will not help): dead-lettered at once. */
export class MalformedPayload extends Data.TaggedError("MalformedPayload")<{ readonly message: string }> {}

interface RepoRow {
  readonly id: string
  readonly village_id: string
}

/**
 * GitHub → bugbots (contract §6): issues become bug bots through `Bugs` (so lifecycle and realtime
 * events happen like for any other change), installations and repositories become installations,
 * villages and repos. Every method runs inside the delivery's transaction.
 */
export class GitHubSync extends Effect.Service<GitHubSync>()("bugbots/GitHubSync", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const bugs = yield* Bugs

    const decode = <A, I>(schema: Schema.Schema<A, I>, payload: unknown) =>
      Schema.decodeUnknown(schema)(payload).pipe(Effect.mapError((e) => new MalformedPayload({ message: e.message })))

    /** The village of a GitHub account (user or organization), created on first sight. */
    const village = Effect.fn("GitHubSync.village")(function* (account: Account) {
      const created = yield* sql<{ id: string }>`
        insert into villages (name, github_org_id) values (${accountName(account)}, ${account.id})
        on conflict (github_org_id) do nothing returning id`
      if (created.length > 0) return created[0].id
      const [row] = yield* sql<{ id: string }>`select id from villages where github_org_id = ${account.id}`
      return row.id
    })

    /**
     * The repo of a GitHub repository: found by its id, else a repo of the owner's village with the
     * same name and no GitHub id yet (created by hand) is linked, else it is created.
     */
    const repo = Effect.fn("GitHubSync.repo")(function* (repository: RepositoryRef, owner: Account) {
      const byId = sql<RepoRow>`select id, village_id from repos where github_repo_id = ${repository.id}`
      const known = yield* byId
      if (known.length > 0) return known[0]
      const villageId = yield* village(owner)
      const linked = yield* sql<RepoRow>`
        update repos set github_repo_id = ${repository.id}, updated_at = now()
        where village_id = ${villageId} and full_name = ${repository.full_name} and github_repo_id is null
        returning id, village_id`
      if (linked.length > 0) return linked[0]
      const created = yield* sql<RepoRow>`
        insert into repos (village_id, full_name, github_repo_id) values (${villageId}, ${repository.full_name}, ${repository.id})
        on conflict do nothing returning id, village_id`
      if (created.length > 0) return created[0]
      const raced = yield* byId
      if (raced.length > 0) return raced[0]
      return yield* new MalformedPayload({
        message: `repo ${repository.full_name} exists already for another GitHub repository than ${repository.id}`
      })
    })

    const installation = Effect.fn("GitHubSync.installation")(function* (inst: Installation) {
      const villageId = yield* village(inst.account)
      yield* sql`
        insert into github_installations (id, village_id, account_id, account_login, account_type, repository_selection, suspended_at)
        values (${inst.id}, ${villageId}, ${inst.account.id}, ${accountName(inst.account)}, ${inst.account.type ?? null},
                ${inst.repository_selection ?? null}, ${inst.suspended_at ?? null})
        on conflict (id) do update set
          village_id = excluded.village_id, account_id = excluded.account_id, account_login = excluded.account_login,
          account_type = excluded.account_type,
          repository_selection = coalesce(excluded.repository_selection, github_installations.repository_selection),
          updated_at = now()`
      return villageId
    })

    const link = (installationId: number, repoId: string) =>
      sql`
        insert into github_installation_repos (installation_id, repo_id) values (${installationId}, ${repoId})
        on conflict (installation_id, repo_id) do update set removed_at = null`

    /** Repositories in id order, so concurrent deliveries take their row locks in the same order. */
    const addRepos = (inst: Installation, repositories: ReadonlyArray<RepositoryRef>) =>
      Effect.forEach(
        [...repositories].sort((a, b) => a.id - b.id),
        (repository) => repo(repository, inst.account).pipe(Effect.flatMap((row) => link(inst.id, row.id))),
        { discard: true }
      )

    const onInstallation = Effect.fn("GitHubSync.onInstallation")(function* (payload: unknown) {
      const event = yield* decode(InstallationEvent, payload)
      const inst = event.installation
      yield* installation(inst)
      switch (event.action) {
        case "created":
          yield* sql`update github_installations set deleted_at = null, suspended_at = ${inst.suspended_at ?? null} where id = ${inst.id}`
          yield* addRepos(inst, event.repositories)
          return
        case "deleted":
          yield* sql`update github_installations set deleted_at = now(), updated_at = now() where id = ${inst.id}`
          return
        case "suspend":
          yield* sql`update github_installations set suspended_at = coalesce(${inst.suspended_at ?? null}::timestamptz, now()), updated_at = now() where id = ${inst.id}`
          return
        case "unsuspend":
          yield* sql`update github_installations set suspended_at = null, updated_at = now() where id = ${inst.id}`
          return
      }
    })

    const onInstallationRepositories = Effect.fn("GitHubSync.onInstallationRepositories")(function* (payload: unknown) {
      const event = yield* decode(InstallationRepositoriesEvent, payload)
      yield* installation(event.installation)
      if (event.action === "added") return yield* addRepos(event.installation, event.repositories_added)
      const removed = event.repositories_removed.map((r) => r.id)
      if (removed.length === 0) return
      yield* sql`
        update github_installation_repos set removed_at = now()
        where installation_id = ${event.installation.id} and removed_at is null
          and repo_id in (select id from repos where github_repo_id in ${sql.in(removed)})`
    })

    /** A repository named by any delivery: its account and itself are provisioned when new. */
    const repositoryOf = Effect.fn("GitHubSync.repositoryOf")(function* (repository: Repository, installationId: number | undefined) {
      const row = yield* repo(repository, repository.owner)
      if (installationId !== undefined) {
        yield* sql`
          with installation as (
            insert into github_installations (id, village_id, account_id, account_login, account_type)
            values (${installationId}, ${row.village_id}, ${repository.owner.id}, ${accountName(repository.owner)}, ${repository.owner.type ?? null})
            on conflict (id) do nothing)
          insert into github_installation_repos (installation_id, repo_id) values (${installationId}, ${row.id})
          on conflict (installation_id, repo_id) do update set removed_at = null
            where github_installation_repos.removed_at is not null`
      }
      return row
    })

    /**
     * The change an issue event makes to its bug: title, description and severity follow the issue
     * as the payload shows it, and closed/reopened/deleted move the status. An event older than the
     * last one applied (GitHub does not keep deliveries in order) changes nothing.
     */
    const planIssue = (bug: Bug, issue: Issue, action: string, target: BugStatus | undefined): Change | null => {
      const applied = bug.metadata.github_updated_at
      if (issue.updated_at !== undefined && typeof applied === "string" && issue.updated_at < applied) return null
      const severity = severityOf(issue.labels)
      const edits: Record<string, unknown> = {}
      if (issue.title !== bug.title) edits.title = { from: bug.title, to: issue.title }
      if (issue.body !== bug.description) edits.description = { changed: true }
      if (severity !== bug.severity) edits.severity = { from: bug.severity, to: severity }
      const move = target !== undefined && target !== bug.status && transitions[bug.status].includes(target)
        ? bugs.statusChange(bug, target, target === "open" ? null : bug.assigned_agent_id, `GitHub issue ${action}`)
        : null
      const edited = Object.keys(edits).length > 0
      if (!edited && move === null) return null
      const patch: BugPatch = {
        ...(edited ? { title: issue.title, description: issue.body, severity } : {}),
        ...move?.patch,
        metadata: { ...bug.metadata, ...(issue.updated_at === undefined ? {} : { github_updated_at: issue.updated_at }) }
      }
      // One change, one event: a move carries the edits made with it.
      const data = { source: "github", action, ...(edited ? { changes: edits } : {}) }
      const event: LifecycleEntry = move === null ? { kind: "edited", data } : { ...move.events[0], data: { ...move.events[0].data, ...data } }
      return { patch, events: [event] }
    }

    const onIssue = Effect.fn("GitHubSync.onIssue")(function* (payload: unknown) {
      const event = yield* decode(IssuesEvent, payload)
      const { issue } = event
      const repoRow = yield* repositoryOf(event.repository, event.installation?.id)
      // Serialises every delivery of this issue: the first creates the bug, the others find it.
      yield* sql`select pg_advisory_xact_lock(hashtextextended(${`github-issue:${issue.id}`}, 0))`
      const existing = yield* sql<{ id: BugId }>`
        select id from bug_bots where provider = 'github' and repo_id = ${repoRow.id} and issue_id = ${issue.id}`
      let target: BugStatus | undefined = statusForAction[event.action]
      let bugId: BugId
      if (existing.length > 0) {
        bugId = existing[0].id
      } else {
        const bug = yield* bugs.insert(
          {
            village_id: repoRow.village_id,
            repo_id: repoRow.id,
            provider: "github",
            source: "webhook",
            issue_id: issue.id,
            issue_number: issue.number,
            title: issue.title,
            description: issue.body,
            status: "open",
            severity: severityOf(issue.labels),
            category: null,
            metadata: {
              ...(issue.html_url === undefined ? {} : { html_url: issue.html_url }),
              ...(issue.user ? { author: issue.user.login } : {}),
              ...(issue.updated_at === undefined ? {} : { github_updated_at: issue.updated_at })
            }
          },
          systemActor
        )
        bugId = bug.id
        target ??= issue.state === "closed" ? "resolved" : undefined
        if (target === undefined || target === "open") return
      }
      yield* bugs.mutate(bugId, systemActor, (bug) => Effect.succeed(planIssue(bug, issue, event.action, target)))
    })

    /** Applies a delivery bugbots acts on (see `isHandled`). */
    const apply = Effect.fn("GitHubSync.apply")(function* (event: string, action: string | null, payload: unknown) {
      if (event === "issues") return yield* onIssue(payload)
      if (event === "installation") return yield* onInstallation(payload)
      if (event === "installation_repositories") return yield* onInstallationRepositories(payload)
      return yield* new MalformedPayload({ message: `bugbots does not act on ${event}.${action}` })
    })

    return { apply } as const
  }),
  dependencies: [Bugs.Default]
}) {}
