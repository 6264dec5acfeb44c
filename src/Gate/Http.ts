import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Gate } from "./Gate.js"

export const GateHttp = HttpApiBuilder.group(Api, "gate", (handlers) =>
  Effect.gen(function* () {
    const gate = yield* Gate
    return handlers
      .handle("settings", ({ path }) => asPrincipal((p) => gate.settings(p, path.id)))
      .handle("update", ({ path, payload }) => asPrincipal((p) => gate.update(p, path.id, payload)))
      .handle("challenge", ({ path }) => asPrincipal((p) => gate.challenge(p, path.id, path.number)))
  })
)
