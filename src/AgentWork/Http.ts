import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Analyses } from "../Analyses/Analyses.js"
import { Bugs } from "../Bugs/Bugs.js"
import { Lease } from "../Domain/Lease.js"
import { jsonResponse } from "../Http/Raw.js"

const encodeLease = Schema.encodeSync(Lease)

/** The claimed bug is PostgreSQL's JSON passed through (with its latest analysis), next to its lease. */
export const AgentWorkHttp = HttpApiBuilder.group(Api, "agentWork", (handlers) =>
  Effect.gen(function* () {
    const bugs = yield* Bugs
    const analyses = yield* Analyses
    return handlers
      .handle("claim", ({ payload }) =>
        asPrincipal((p) => bugs.claim(p, payload)).pipe(
          Effect.flatMap(Option.match({
            onNone: () => Effect.succeed(undefined),
            onSome: ({ json, lease }) =>
              Effect.map(analyses.attachLatest(json), (bug) => jsonResponse(`{"bug":${bug},"lease":${JSON.stringify(encodeLease(lease))}}`))
          }))
        )
      )
      .handle("heartbeat", ({ path, payload }) => asPrincipal((p) => bugs.heartbeat(p, path.id, payload.lease_token, payload.lease_seconds)))
      .handle("release", ({ path, payload }) =>
        asPrincipal((p) => bugs.release(p, path.id, payload.lease_token, payload.reason)).pipe(Effect.map((json) => jsonResponse(json)))
      )
  })
)
