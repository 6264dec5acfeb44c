import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { AgentWork } from "./AgentWork.js"

export const AgentWorkHttp = HttpApiBuilder.group(Api, "agentWork", (handlers) =>
  Effect.gen(function* () {
    const work = yield* AgentWork
    return handlers
      .handle("claim", ({ payload }) =>
        asPrincipal((p) => work.claim(p, payload)).pipe(Effect.map(Option.getOrUndefined))
      )
      .handle("heartbeat", ({ path, payload }) =>
        asPrincipal((p) => work.heartbeat(p, path.id, payload.lease_token, payload.lease_seconds))
      )
      .handle("release", ({ path, payload }) =>
        asPrincipal((p) => work.release(p, path.id, payload.lease_token, payload.reason))
      )
  })
)
