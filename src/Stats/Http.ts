import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Stats } from "./Stats.js"

export const StatsHttp = HttpApiBuilder.group(Api, "stats", (handlers) =>
  Effect.gen(function* () {
    const stats = yield* Stats
    return handlers.handle("village", ({ path }) => asPrincipal((p) => stats.village(p, path.id)))
  })
)
