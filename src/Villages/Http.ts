import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { CurrentPrincipal } from "../Auth/Principal.js"
import { Villages } from "./Villages.js"

export const VillagesHttp = HttpApiBuilder.group(Api, "villages", (handlers) =>
  Effect.gen(function* () {
    const villages = yield* Villages
    const as = CurrentPrincipal
    return handlers
      .handle("create", ({ payload }) => as.pipe(Effect.flatMap((p) => villages.create(p, payload))))
      .handle("list", ({ urlParams }) => as.pipe(Effect.flatMap((p) => villages.list(p, urlParams.limit, urlParams.cursor))))
      .handle("get", ({ path }) => as.pipe(Effect.flatMap((p) => villages.get(p, path.id))))
      .handle("setMember", ({ path, payload }) => as.pipe(Effect.flatMap((p) => villages.setMember(p, path.id, path.user_id, payload.role))))
      .handle("removeMember", ({ path }) => as.pipe(Effect.flatMap((p) => villages.removeMember(p, path.id, path.user_id))))
      .handle("createRepo", ({ path, payload }) => as.pipe(Effect.flatMap((p) => villages.createRepo(p, path.id, payload))))
      .handle("listRepos", ({ path, urlParams }) =>
        as.pipe(Effect.flatMap((p) => villages.listRepos(p, path.id, urlParams.limit, urlParams.cursor)))
      )
  })
)
