import { Model } from "@effect/sql"
import { Schema } from "effect"
import { Text, UpstreamId, withDefaultOnCreate } from "./Fields.js"
import { UserId, VillageId } from "./Ids.js"

export class User extends Model.Class<User>("User")({
  id: Model.Generated(UserId),
  login: Text(100),
  github_id: UpstreamId,
  email: withDefaultOnCreate(Schema.NullOr(Text(320)), () => null),
  is_superuser: withDefaultOnCreate(Schema.Boolean, () => false),
  created_at: Model.DateTimeInsertFromDate,
  updated_at: Model.DateTimeUpdateFromDate
}) {}

export const VillageRole = Schema.Literal("admin", "maintainer", "triager", "operator")
export type VillageRole = typeof VillageRole.Type

export class Membership extends Schema.Class<Membership>("Membership")({
  village_id: VillageId,
  user_id: UserId,
  role: VillageRole
}) {}
