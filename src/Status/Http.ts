import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Status } from "./Status.js"

export const StatusHttp = HttpApiBuilder.group(Api, "status", (handlers) =>
  Effect.gen(function* () {
    const status = yield* Status
    return handlers.handle("adminStatus", () => asPrincipal((p) => status.admin(p)))
  })
)
