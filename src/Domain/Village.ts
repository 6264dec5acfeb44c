import { Schema } from "effect"
import { OptionalUpstreamId, Payload, Text, Timestamp } from "./Fields.js"
import { RepoId, VillageId } from "./Ids.js"

/** A village: the GitHub account (user or organization) owning repositories. */
export class Village extends Schema.Class<Village>("Village")({
  id: VillageId,
  name: Schema.String,
  github_org_id: Schema.NullOr(Schema.Number),
  created_at: Timestamp,
  updated_at: Timestamp
}) {}

export const CreateVillage = Payload({ name: Text(200), github_org_id: OptionalUpstreamId })
export type CreateVillage = typeof CreateVillage.Type

export class Repo extends Schema.Class<Repo>("Repo")({
  id: RepoId,
  village_id: VillageId,
  full_name: Schema.String,
  github_repo_id: Schema.NullOr(Schema.Number),
  created_at: Timestamp,
  updated_at: Timestamp
}) {}

export const CreateRepo = Payload({
  full_name: Text(200).pipe(Schema.pattern(/^[^/\s]+\/[^/\s]+$/)).annotations({ description: "owner/name" }),
  github_repo_id: OptionalUpstreamId
})
export type CreateRepo = typeof CreateRepo.Type

/** Seconds from a bug's creation to its SLA deadline, for one severity: a minute to a year. */
const SlaSeconds = Schema.Int.pipe(Schema.between(60, 366 * 24 * 3600))

/** A village's settings (contract §9): the SLA policy, seconds by severity. */
export class VillageSettings extends Schema.Class<VillageSettings>("VillageSettings")({
  village_id: VillageId,
  sla_seconds: Schema.Struct({ critical: SlaSeconds, high: SlaSeconds, medium: SlaSeconds, low: SlaSeconds }),
  analyze_new_bugs: Schema.Boolean.annotations({ description: "every bug created in the village gets a root-cause analysis (contract §13)" }),
  updated_at: Timestamp
}) {}

/** `PUT /villages/{id}/settings`: the severities named change; the others keep their value; so does `analyze_new_bugs` when left out. */
export const UpdateVillageSettings = Payload({
  sla_seconds: Schema.optional(
    Payload({
      critical: Schema.optional(SlaSeconds),
      high: Schema.optional(SlaSeconds),
      medium: Schema.optional(SlaSeconds),
      low: Schema.optional(SlaSeconds)
    })
  ),
  analyze_new_bugs: Schema.optional(Schema.Boolean)
})
export type UpdateVillageSettings = typeof UpdateVillageSettings.Type

/** A repo's settings (contract §10): whether bug status changes are told on their GitHub issue. */
export class RepoSettings extends Schema.Class<RepoSettings>("RepoSettings")({
  repo_id: RepoId,
  comment_on_issues: Schema.Boolean.annotations({
    description: "claims, awaiting_verification and resolution of a bug from a GitHub issue upsert one comment on the issue (marker `bug`)"
  }),
  updated_at: Timestamp
}) {}

/** `PUT /repos/{id}/settings`: the fields named change. */
export const UpdateRepoSettings = Payload({ comment_on_issues: Schema.optional(Schema.Boolean) })
export type UpdateRepoSettings = typeof UpdateRepoSettings.Type

/** `GET /api/v1/repos/{id}/github-app-status` (contract §10): the GitHub App's installation on the repo. */
export class GitHubAppStatus extends Schema.Class<GitHubAppStatus>("GitHubAppStatus")({
  repo_id: RepoId,
  installed: Schema.Boolean.annotations({ description: "an installation covers the repo now: linked, not removed, not deleted (it may be suspended)" }),
  installation_id: Schema.NullOr(Schema.Number),
  account_login: Schema.NullOr(Schema.String),
  suspended: Schema.Boolean,
  removed: Schema.Boolean.annotations({ description: "the repo was removed from the installation, or the installation deleted" }),
  updated_at: Schema.NullOr(Timestamp).annotations({ description: "when the installation or its link last changed; null when never installed" })
}) {}
