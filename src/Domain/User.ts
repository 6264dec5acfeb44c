import { Schema } from "effect"
import { OptionalUpstreamId, Payload, Text, Timestamp } from "./Fields.js"
import { TokenId, UserId, VillageId } from "./Ids.js"

export class User extends Schema.Class<User>("User")({
  id: UserId,
  login: Schema.String,
  github_id: Schema.NullOr(Schema.Number),
  email: Schema.NullOr(Schema.String),
  is_superuser: Schema.Boolean,
  created_at: Timestamp,
  updated_at: Timestamp
}) {}

export const CreateUser = Payload({
  login: Text(100),
  github_id: OptionalUpstreamId,
  email: Schema.optionalWith(Schema.NullOr(Text(320)), { default: () => null }),
  is_superuser: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export type CreateUser = typeof CreateUser.Type

export const VillageRole = Schema.Literal("admin", "maintainer", "triager", "operator")
export type VillageRole = typeof VillageRole.Type

export class Membership extends Schema.Class<Membership>("Membership")({
  village_id: VillageId,
  user_id: UserId,
  role: VillageRole
}) {}

export const SetMember = Payload({ role: VillageRole })

export const TokenRequest = Payload({ name: Text(100) })

export class IssuedToken extends Schema.Class<IssuedToken>("IssuedToken")({
  id: TokenId,
  token: Schema.String.annotations({ description: "The bearer token. Shown once: only its hash is stored." })
}) {}

/** `GET /me`: the calling principal. */
export class Me extends Schema.Class<Me>("Me")({
  type: Schema.Literal("user", "agent"),
  id: Schema.UUID,
  login: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  is_superuser: Schema.Boolean,
  memberships: Schema.Array(Schema.Struct({ village_id: VillageId, role: Schema.Union(VillageRole, Schema.Literal("agent")) }))
}) {}
