import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Users } from "./Users.js"

export const UsersHttp = HttpApiBuilder.group(Api, "users", (handlers) =>
  Effect.gen(function* () {
    const users = yield* Users
    return handlers
      .handle("create", ({ payload }) => asPrincipal((p) => users.create(p, payload)))
      .handle("createToken", ({ path, payload }) => asPrincipal((p) => users.createToken(p, path.id, payload.name)))
      .handle("me", () => asPrincipal((p) => Effect.succeed(users.me(p))))
  })
)
