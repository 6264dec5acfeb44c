import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Bugs } from "../Bugs/Bugs.js"

export const AgentWorkHttp = HttpApiBuilder.group(Api, "agentWork", (handlers) =>
  Effect.gen(function* () {
    const bugs = yield* Bugs
    return handlers
      .handle("claim", ({ payload }) => asPrincipal((p) => bugs.claim(p, payload)).pipe(Effect.map(Option.getOrUndefined)))
      .handle("heartbeat", ({ path, payload }) => asPrincipal((p) => bugs.heartbeat(p, path.id, payload.lease_token, payload.lease_seconds)))
      .handle("release", ({ path, payload }) => asPrincipal((p) => bugs.release(p, path.id, payload.lease_token, payload.reason)))
  })
)
