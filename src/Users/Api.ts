import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { JsonBody } from "../Http/JsonBody.js"
import { Conflict, Forbidden, NotFound } from "../Domain/Errors.js"
import { UserId } from "../Domain/Ids.js"
import { CreateUser, IssuedToken, Me, TokenRequest, User } from "../Domain/User.js"

/** Contract §4: users, their tokens, and the calling principal. */
export class UsersApi extends HttpApiGroup.make("users")
  .add(
    HttpApiEndpoint.post("create", "/users")
      .setPayload(CreateUser)
      .addSuccess(User, { status: 201 })
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
  .middleware(JsonBody)
  .prefix("/api") {}
