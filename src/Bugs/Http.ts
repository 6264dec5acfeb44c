import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Bugs } from "./Bugs.js"

export const BugsHttp = HttpApiBuilder.group(Api, "bugs", (handlers) =>
  Effect.gen(function* () {
    const bugs = yield* Bugs
    return handlers
      .handle("list", ({ path, urlParams }) => asPrincipal((p) => bugs.list(p, path.id, urlParams)))
      .handle("create", ({ path, payload }) => asPrincipal((p) => bugs.create(p, path.id, payload)))
      .handle("get", ({ path }) => asPrincipal((p) => bugs.get(p, path.id)))
      .handle("assign", ({ path, payload }) => asPrincipal((p) => bugs.assign(p, path.id, payload.agent_id)))
      .handle("changeStatus", ({ path, payload }) => asPrincipal((p) => bugs.changeStatus(p, path.id, payload)))
      .handle("events", ({ path, urlParams }) => asPrincipal((p) => bugs.events(p, path.id, urlParams.limit, urlParams.cursor)))
      .handle("addNote", ({ path, payload }) => asPrincipal((p) => bugs.addNote(p, path.id, payload.body, payload.lease_token)))
  })
)
