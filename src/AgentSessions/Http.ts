import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { CurrentPrincipal } from "../Auth/Principal.js"
import { AgentSessions } from "./AgentSessions.js"

export const AgentSessionsHttp = HttpApiBuilder.group(Api, "agentSessions", (handlers) =>
  Effect.gen(function* () {
    const sessions = yield* AgentSessions
    return handlers
      .handle("start", () => CurrentPrincipal.pipe(Effect.flatMap((p) => sessions.start(p))))
      .handle("append", ({ path, payload }) => CurrentPrincipal.pipe(Effect.flatMap((p) => sessions.append(p, path.id, payload))))
      .handle("end", ({ path }) => CurrentPrincipal.pipe(Effect.flatMap((p) => sessions.end(p, path.id))))
      .handle("events", ({ path, urlParams }) =>
        CurrentPrincipal.pipe(Effect.flatMap((p) => sessions.events(p, path.id, urlParams.limit, urlParams.cursor)))
      )
  })
)
