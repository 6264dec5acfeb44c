import { Model } from "@effect/sql"
import { Schema } from "effect"
import { Text, UpstreamId } from "./Fields.js"
import { RepoId, VillageId } from "./Ids.js"

export class Village extends Model.Class<Village>("Village")({
  id: Model.Generated(VillageId),
  name: Text(200),
  github_org_id: UpstreamId,
  created_at: Model.DateTimeInsertFromDate,
  updated_at: Model.DateTimeUpdateFromDate
}) {}

export class Repo extends Model.Class<Repo>("Repo")({
  id: Model.Generated(RepoId),
  village_id: Model.FieldExcept("jsonCreate", "jsonUpdate")(VillageId),
  full_name: Text(200).pipe(Schema.pattern(/^[^/\s]+\/[^/\s]+$/)),
  github_repo_id: UpstreamId,
  created_at: Model.DateTimeInsertFromDate,
  updated_at: Model.DateTimeUpdateFromDate
}) {}
