import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { jsonResponse } from "../Http/Raw.js"
import { Bugs } from "./Bugs.js"

/** Bugs are answered with PostgreSQL's JSON, passed through (no decoding, no encoding). */
export const BugsHttp = HttpApiBuilder.group(Api, "bugs", (handlers) =>
  Effect.gen(function* () {
    const bugs = yield* Bugs
    return handlers
      .handle("list", ({ path, urlParams }) => asPrincipal((p) => bugs.listJson(p, path.id, urlParams)).pipe(Effect.map((json) => jsonResponse(json))))
      .handle("create", ({ path, payload }) => asPrincipal((p) => bugs.create(p, path.id, payload)).pipe(Effect.map((json) => jsonResponse(json, 201))))
      .handle("get", ({ path }) => asPrincipal((p) => bugs.getJson(p, path.id)).pipe(Effect.map((json) => jsonResponse(json))))
      .handle("edit", ({ path, payload }) => asPrincipal((p) => bugs.edit(p, path.id, payload)).pipe(Effect.map((json) => jsonResponse(json))))
      .handle("assign", ({ path, payload }) => asPrincipal((p) => bugs.assign(p, path.id, payload.agent_id)).pipe(Effect.map((json) => jsonResponse(json))))
      .handle("changeStatus", ({ path, payload }) => asPrincipal((p) => bugs.changeStatus(p, path.id, payload)).pipe(Effect.map((json) => jsonResponse(json))))
      .handle("events", ({ path, urlParams }) => asPrincipal((p) => bugs.events(p, path.id, urlParams.limit, urlParams.cursor)))
      .handle("addNote", ({ path, payload }) => asPrincipal((p) => bugs.addNote(p, path.id, payload.body, payload.lease_token)))
  })
)
