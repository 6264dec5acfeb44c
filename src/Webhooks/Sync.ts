import { Data, Effect, Option, Schema } from "effect"
import { Bugs, type UpstreamBug } from "../Bugs/Bugs.js"
import { Gate } from "../Gate/Gate.js"
import { Installations, type Installation as InstallationRecord } from "../Villages/Installations.js"
import {
  type Account,
  accountName,
  type Installation,
  InstallationEvent,
  type Issue,
  InstallationRepositoriesEvent,
  IssueCommentEvent,
  IssuesEvent,
  PullRequestEvent,
  severityOf,
  statusForAction
} from "./GitHub.js"

/** A payload that can never be applied as it is (retrying will not help): dead-lettered at once. */
export class MalformedPayload extends Data.TaggedError("MalformedPayload")<{ readonly message: string }> {}

const account = (a: Account) => ({ id: a.id, name: accountName(a), type: a.type ?? null })

const installation = (inst: Installation): InstallationRecord => ({
  id: inst.id,
  account: account(inst.account),
  repository_selection: inst.repository_selection ?? null,
  suspended_at: inst.suspended_at ?? null
})

/**
 * An issue as `Bugs.syncFromUpstream` follows it. A webhook's action moves the bug (`closed`,
 * `reopened`, `deleted`), and the issue's state is recorded with that move; the reconciler has no
 * action, only the state, which then decides (see `planUpstream`).
 */
export const upstreamOfIssue = (repo: UpstreamBug["repo"], issue: Issue, source: UpstreamBug["source"], action: string): UpstreamBug => {
  const target = source === "webhook" ? statusForAction[action] : undefined
  const state = issue.state === "open" || issue.state === "closed" ? issue.state : undefined
  return {
    repo,
    issue_id: issue.id,
    issue_number: issue.number,
    source,
    metadata: {
      ...(issue.html_url === undefined ? {} : { html_url: issue.html_url }),
      ...(issue.user ? { author: issue.user.login } : {})
    },
    view: {
      title: issue.title,
      description: issue.body,
      severity: severityOf(issue.labels),
      updated_at: issue.updated_at,
      target,
      action,
      source: "github",
      state: source === "reconcile" || target !== undefined ? state : undefined
    },
    targetWhenNew: issue.state === "closed" ? "resolved" : undefined
  }
}

/**
 * GitHub → bugbots (contract §6): reads a delivery's payload and hands it to the owners: issues to
 * `Bugs.syncFromUpstream` (so lifecycle and realtime events happen like for any other change),
 * installations and repositories to `Installations`. Runs inside the delivery's transaction.
 */
export class GitHubSync extends Effect.Service<GitHubSync>()("bugbots/GitHubSync", {
  effect: Effect.gen(function* () {
    const bugs = yield* Bugs
    const installations = yield* Installations
    const gate = yield* Gate

    const decode = <A, I>(schema: Schema.Schema<A, I>, payload: unknown) =>
      Schema.decodeUnknown(schema)(payload).pipe(Effect.mapError((e) => new MalformedPayload({ message: e.message })))

    /** A repository that belongs to another GitHub repository by name can never be provisioned. */
    const unprovisionable = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.catchIf(
        effect,
        (e): e is Extract<E, { _tag: "Conflict" }> => typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "Conflict",
        (e) => Effect.fail(new MalformedPayload({ message: (e as unknown as { message: string }).message }))
      )

    const onInstallation = Effect.fn("GitHubSync.onInstallation")(function* (payload: unknown) {
      const event = yield* decode(InstallationEvent, payload)
      const inst = installation(event.installation)
      switch (event.action) {
        case "created":
          return yield* unprovisionable(installations.created(inst, event.repositories))
        case "deleted":
          return yield* installations.deleted(inst)
        case "suspend":
          return yield* installations.suspended(inst)
        case "unsuspend":
          return yield* installations.unsuspended(inst)
      }
    })

    const onInstallationRepositories = Effect.fn("GitHubSync.onInstallationRepositories")(function* (payload: unknown) {
      const event = yield* decode(InstallationRepositoriesEvent, payload)
      const inst = installation(event.installation)
      if (event.action === "added") return yield* unprovisionable(installations.reposAdded(inst, event.repositories_added))
      return yield* installations.reposRemoved(inst, event.repositories_removed.map((r) => r.id))
    })

    const onIssue = Effect.fn("GitHubSync.onIssue")(function* (payload: unknown) {
      const event = yield* decode(IssuesEvent, payload)
      const { issue } = event
      const repo = yield* unprovisionable(
        installations.repositoryOf(event.repository, account(event.repository.owner), event.installation?.id)
      )
      yield* bugs.syncFromUpstream(upstreamOfIssue(repo, issue, "webhook", event.action))
    })

    /** The pull request a delivery is about, its repo provisioned; None without an installation (nothing can be done on GitHub). */
    const pullRequestOf = (event: { readonly repository: PullRequestEvent["repository"]; readonly installation?: { readonly id: number } | undefined }, number: number) =>
      Effect.gen(function* () {
        const repo = yield* unprovisionable(
          installations.repositoryOf(event.repository, account(event.repository.owner), event.installation?.id)
        )
        if (event.installation === undefined) return Option.none()
        return Option.some({ repo, repoFullName: event.repository.full_name, number, installationId: event.installation.id })
      })

    /** Contract §10: the pull-request gate. */
    const onPullRequest = Effect.fn("GitHubSync.onPullRequest")(function* (payload: unknown) {
      const event = yield* decode(PullRequestEvent, payload)
      const pr = yield* pullRequestOf(event, event.pull_request.number)
      if (Option.isSome(pr)) yield* gate.onPullRequest(pr.value, event.action, event.pull_request)
    })

    const onIssueComment = Effect.fn("GitHubSync.onIssueComment")(function* (payload: unknown) {
      const event = yield* decode(IssueCommentEvent, payload)
      if (event.issue.pull_request === undefined || event.issue.pull_request === null) return
      const pr = yield* pullRequestOf(event, event.issue.number)
      if (Option.isSome(pr)) yield* gate.onComment(pr.value, event.comment)
    })

    /** Applies a delivery bugbots acts on (see `isHandled`). */
    const apply = Effect.fn("GitHubSync.apply")(function* (event: string, action: string | null, payload: unknown) {
      if (event === "issues") return yield* onIssue(payload)
      if (event === "installation") return yield* onInstallation(payload)
      if (event === "installation_repositories") return yield* onInstallationRepositories(payload)
      if (event === "pull_request") return yield* onPullRequest(payload)
      if (event === "issue_comment") return yield* onIssueComment(payload)
      return yield* new MalformedPayload({ message: `bugbots does not act on ${event}.${action}` })
    })

    return { apply } as const
  }),
  dependencies: [Bugs.Default, Installations.Default, Gate.Default]
}) {}
