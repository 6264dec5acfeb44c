import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { IssuedToken } from "../Auth/Auth.js"
import { Authentication } from "../Auth/Middleware.js"
import { Conflict, Forbidden, NotFound } from "../Domain/Errors.js"
import { Payload, strict, Text } from "../Domain/Fields.js"
import { UserId, VillageId } from "../Domain/Ids.js"
import { User, VillageRole } from "../Domain/User.js"

export class Me extends Schema.Class<Me>("Me")({
  type: Schema.Literal("user", "agent"),
  id: Schema.UUID,
  login: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  is_superuser: Schema.Boolean,
  memberships: Schema.Array(Schema.Struct({ village_id: VillageId, role: Schema.Union(VillageRole, Schema.Literal("agent")) }))
}) {}

export const TokenRequest = Payload({ name: Text(100) })

/** Contract §4: users, their tokens, and the calling principal. */
export class UsersApi extends HttpApiGroup.make("users")
  .add(
    HttpApiEndpoint.post("create", "/users")
      .setPayload(strict(User.jsonCreate))
      .addSuccess(User.json, { status: 201 })
      .addError(Forbidden)
      .addError(Conflict)
  )
  .add(
    HttpApiEndpoint.post("createToken", "/users/:id/tokens")
      .setPath(Schema.Struct({ id: UserId }))
      .setPayload(TokenRequest)
      .addSuccess(IssuedToken, { status: 201 })
      .addError(Forbidden)
      .addError(NotFound)
  )
  .add(HttpApiEndpoint.get("me", "/me").addSuccess(Me))
  .middleware(Authentication)
  .prefix("/api") {}
