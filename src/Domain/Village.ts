import { Model } from "@effect/sql"
import { Schema } from "effect"
import { UpstreamId } from "./Fields.js"
import { RepoId, VillageId } from "./Ids.js"

export class Village extends Model.Class<Village>("Village")({
  id: Model.Generated(VillageId),
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  github_org_id: UpstreamId,
  created_at: Model.DateTimeInsertFromDate,
  updated_at: Model.DateTimeUpdateFromDate
}) {}

export class Repo extends Model.Class<Repo>("Repo")({
  id: Model.Generated(RepoId),
  village_id: Model.FieldExcept("jsonCreate", "jsonUpdate")(VillageId),
  full_name: Schema.String.pipe(Schema.pattern(/^[^/\s]+\/[^/\s]+$/), Schema.maxLength(200)),
  github_repo_id: UpstreamId,
  created_at: Model.DateTimeInsertFromDate,
  updated_at: Model.DateTimeUpdateFromDate
}) {}
