import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Agents } from "./Agents.js"

export const AgentsHttp = HttpApiBuilder.group(Api, "agents", (handlers) =>
  Effect.gen(function* () {
    const agents = yield* Agents
    return handlers
      .handle("create", ({ path, payload }) => asPrincipal((p) => agents.create(p, path.id, payload)))
      .handle("list", ({ path, urlParams }) =>
        asPrincipal((p) => agents.list(p, path.id, urlParams.limit, urlParams.cursor))
      )
      .handle("createToken", ({ path }) => asPrincipal((p) => agents.createToken(p, path.id)))
      .handle("setState", ({ path, payload }) => asPrincipal((p) => agents.setState(p, path.id, payload.state)))
  })
)
