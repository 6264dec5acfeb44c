import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Analyses } from "./Analyses.js"

export const AnalysesHttp = HttpApiBuilder.group(Api, "analyses", (handlers) =>
  Effect.gen(function* () {
    const analyses = yield* Analyses
    return handlers
      .handle("request", ({ path }) => asPrincipal((p) => analyses.request(p, path.id)))
      .handle("list", ({ path, urlParams }) => asPrincipal((p) => analyses.list(p, path.id, urlParams.limit, urlParams.cursor)))
  })
)
