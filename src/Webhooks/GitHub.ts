import { Schema } from "effect"
import type { BugStatus, Severity } from "../Domain/Bug.js"

/**
 * The parts of GitHub's webhook payloads bugbots reads (contract §6). Everything else in a payload is
 * kept in the ledger untouched.
 */

/** A user, organization or enterprise owning repositories or an installation. */
export const Account = Schema.Struct({
  id: Schema.Number,
  login: Schema.optional(Schema.String),
  slug: Schema.optional(Schema.String),
  name: Schema.optional(Schema.NullOr(Schema.String)),
  type: Schema.optional(Schema.String)
})
export type Account = typeof Account.Type

/** Enterprises have a slug and a name instead of a login. */
export const accountName = (account: Account) => account.login ?? account.slug ?? account.name ?? `github-${account.id}`

export const RepositoryRef = Schema.Struct({ id: Schema.Number, full_name: Schema.String })
export type RepositoryRef = typeof RepositoryRef.Type

export const Repository = Schema.Struct({ id: Schema.Number, full_name: Schema.String, owner: Account })
export type Repository = typeof Repository.Type

const Label = Schema.Struct({ name: Schema.String })

export const Issue = Schema.Struct({
  id: Schema.Number,
  number: Schema.Int,
  title: Schema.String,
  body: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  state: Schema.optional(Schema.String),
  labels: Schema.optionalWith(Schema.Array(Label), { default: () => [] }),
  html_url: Schema.optional(Schema.String),
  updated_at: Schema.optional(Schema.String),
  user: Schema.optional(Schema.NullOr(Schema.Struct({ login: Schema.String })))
})
export type Issue = typeof Issue.Type

const InstallationRef = Schema.Struct({ id: Schema.Number })

export const IssuesEvent = Schema.Struct({
  action: Schema.String,
  issue: Issue,
  repository: Repository,
  installation: Schema.optional(InstallationRef)
})
export type IssuesEvent = typeof IssuesEvent.Type

export const Installation = Schema.Struct({
  id: Schema.Number,
  account: Account,
  repository_selection: Schema.optional(Schema.String),
  suspended_at: Schema.optional(Schema.NullOr(Schema.String))
})
export type Installation = typeof Installation.Type

export const InstallationEvent = Schema.Struct({
  action: Schema.String,
  installation: Installation,
  repositories: Schema.optionalWith(Schema.Array(RepositoryRef), { default: () => [] })
})
export type InstallationEvent = typeof InstallationEvent.Type

export const InstallationRepositoriesEvent = Schema.Struct({
  action: Schema.String,
  installation: Installation,
  repositories_added: Schema.optionalWith(Schema.Array(RepositoryRef), { default: () => [] }),
  repositories_removed: Schema.optionalWith(Schema.Array(Schema.Struct({ id: Schema.Number })), { default: () => [] })
})
export type InstallationRepositoriesEvent = typeof InstallationRepositoriesEvent.Type

const User = Schema.Struct({ login: Schema.String, id: Schema.optional(Schema.Number), type: Schema.optional(Schema.String) })

export const PullRequestEvent = Schema.Struct({
  action: Schema.String,
  number: Schema.Int,
  pull_request: Schema.Struct({
    number: Schema.Int,
    state: Schema.optional(Schema.String),
    draft: Schema.optionalWith(Schema.Boolean, { default: () => false }),
    user: User
  }),
  repository: Repository,
  installation: Schema.optional(InstallationRef)
})
export type PullRequestEvent = typeof PullRequestEvent.Type

/** A comment on an issue or a pull request (then `issue.pull_request` is set). */
export const IssueCommentEvent = Schema.Struct({
  action: Schema.String,
  issue: Schema.Struct({ number: Schema.Int, pull_request: Schema.optional(Schema.Unknown), user: Schema.optional(User) }),
  comment: Schema.Struct({ id: Schema.Number, body: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }), user: User }),
  repository: Repository,
  installation: Schema.optional(InstallationRef)
})
export type IssueCommentEvent = typeof IssueCommentEvent.Type

/** The (event, action) pairs bugbots acts on; every other delivery is stored and `IGNORED`. */
const handled: Record<string, ReadonlyArray<string>> = {
  issues: ["opened", "edited", "labeled", "unlabeled", "closed", "reopened", "deleted"],
  installation: ["created", "deleted", "suspend", "unsuspend"],
  installation_repositories: ["added", "removed"],
  pull_request: ["opened", "reopened", "ready_for_review", "synchronize", "closed"],
  issue_comment: ["created"]
}

export const isHandled = (event: string, action: string | null) =>
  action !== null && Object.hasOwn(handled, event) && handled[event].includes(action)

/** Where an issue action moves its bug; the other handled actions only sync its fields. */
export const statusForAction: Record<string, BugStatus> = { closed: "resolved", reopened: "open", deleted: "closed" }

const severityLabel = /^severity\s*:\s*(critical|high|medium|low)$/i
const priorityLabel = /^p([0-3])$/i
const bySeverity: ReadonlyArray<Severity> = ["critical", "high", "medium", "low"]

const rankOf = (label: string): number | null => {
  const severity = severityLabel.exec(label)?.[1]?.toLowerCase()
  if (severity !== undefined) return bySeverity.findIndex((s) => s === severity)
  const priority = priorityLabel.exec(label)?.[1]
  return priority === undefined ? null : Number(priority)
}

/** `severity:critical|high|medium|low` or `P0`..`P3`; the most severe label wins, none gives null. */
export const severityOf = (labels: ReadonlyArray<{ readonly name: string }>): Severity | null => {
  const ranks = labels.map(({ name }) => rankOf(name.trim())).filter((rank) => rank !== null)
  return ranks.length === 0 ? null : bySeverity[Math.min(...ranks)]
}
