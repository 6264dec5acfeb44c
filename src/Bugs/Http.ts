import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Bugs } from "./Bugs.js"

const jsonResponse = (json: string) => HttpServerResponse.text(json, { contentType: "application/json" })

export const BugsHttp = HttpApiBuilder.group(Api, "bugs", (handlers) =>
  Effect.gen(function* () {
    const bugs = yield* Bugs
    return handlers
      // The two hottest reads pass PostgreSQL's JSON through, undecoded; the declared schemas still
      // describe them (and a test decodes each with its schema, so the two cannot drift apart).
      .handle("list", ({ path, urlParams }) => asPrincipal((p) => bugs.listJson(p, path.id, urlParams)).pipe(Effect.map(jsonResponse)))
      .handle("create", ({ path, payload }) => asPrincipal((p) => bugs.create(p, path.id, payload)))
      .handle("get", ({ path }) => asPrincipal((p) => bugs.getJson(p, path.id)).pipe(Effect.map(jsonResponse)))
      .handle("assign", ({ path, payload }) => asPrincipal((p) => bugs.assign(p, path.id, payload.agent_id)))
      .handle("changeStatus", ({ path, payload }) => asPrincipal((p) => bugs.changeStatus(p, path.id, payload)))
      .handle("events", ({ path, urlParams }) => asPrincipal((p) => bugs.events(p, path.id, urlParams.limit, urlParams.cursor)))
      .handle("addNote", ({ path, payload }) => asPrincipal((p) => bugs.addNote(p, path.id, payload.body, payload.lease_token)))
  })
)
