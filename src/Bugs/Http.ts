import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { CurrentPrincipal } from "../Auth/Principal.js"
import { Bugs } from "./Bugs.js"

export const BugsHttp = HttpApiBuilder.group(Api, "bugs", (handlers) =>
  Effect.gen(function* () {
    const bugs = yield* Bugs
    return handlers
      .handle("list", ({ path, urlParams: { limit, cursor, sort, ...filters } }) =>
        CurrentPrincipal.pipe(Effect.flatMap((p) => bugs.list(p, path.id, filters, sort, limit, cursor)))
      )
      .handle("create", ({ path, payload }) => CurrentPrincipal.pipe(Effect.flatMap((p) => bugs.create(p, path.id, payload))))
      .handle("get", ({ path }) => CurrentPrincipal.pipe(Effect.flatMap((p) => bugs.get(p, path.id))))
      .handle("assign", ({ path, payload }) => CurrentPrincipal.pipe(Effect.flatMap((p) => bugs.assign(p, path.id, payload.agent_id))))
      .handle("changeStatus", ({ path, payload }) => CurrentPrincipal.pipe(Effect.flatMap((p) => bugs.changeStatus(p, path.id, payload))))
      .handle("events", ({ path, urlParams }) =>
        CurrentPrincipal.pipe(Effect.flatMap((p) => bugs.events(p, path.id, urlParams.limit, urlParams.cursor)))
      )
      .handle("addNote", ({ path, payload }) => CurrentPrincipal.pipe(Effect.flatMap((p) => bugs.addNote(p, path.id, payload.body))))
  })
)
