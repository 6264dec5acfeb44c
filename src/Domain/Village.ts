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
