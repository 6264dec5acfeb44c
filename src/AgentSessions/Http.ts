import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { AgentSessions } from "./AgentSessions.js"

export const AgentSessionsHttp = HttpApiBuilder.group(Api, "agentSessions", (handlers) =>
  Effect.gen(function* () {
    const sessions = yield* AgentSessions
    return handlers
      .handle("start", () => asPrincipal((p) => sessions.start(p)))
      .handle("append", ({ path, payload }) => asPrincipal((p) => sessions.append(p, path.id, payload)))
      .handle("end", ({ path }) => asPrincipal((p) => sessions.end(p, path.id)))
      .handle("events", ({ path, urlParams }) =>
        asPrincipal((p) => sessions.events(p, path.id, urlParams.limit, urlParams.cursor))
      )
  })
)
