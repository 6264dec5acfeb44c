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
