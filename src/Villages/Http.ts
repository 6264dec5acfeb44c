import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Installations } from "./Installations.js"
import { Villages } from "./Villages.js"

export const VillagesHttp = HttpApiBuilder.group(Api, "villages", (handlers) =>
  Effect.gen(function* () {
    const villages = yield* Villages
    return handlers
      .handle("create", ({ payload }) => asPrincipal((p) => villages.create(p, payload)))
      .handle("list", ({ urlParams }) => asPrincipal((p) => villages.list(p, urlParams.limit, urlParams.cursor)))
      .handle("get", ({ path }) => asPrincipal((p) => villages.get(p, path.id)))
      .handle("settings", ({ path }) => asPrincipal((p) => villages.settings(p, path.id)))
      .handle("updateSettings", ({ path, payload }) => asPrincipal((p) => villages.updateSettings(p, path.id, payload)))
      .handle("setMember", ({ path, payload }) => asPrincipal((p) => villages.setMember(p, path.id, path.user_id, payload.role)))
      .handle("removeMember", ({ path }) => asPrincipal((p) => villages.removeMember(p, path.id, path.user_id)))
      .handle("createRepo", ({ path, payload }) => asPrincipal((p) => villages.createRepo(p, path.id, payload)))
      .handle("listRepos", ({ path, urlParams }) =>
        asPrincipal((p) => villages.listRepos(p, path.id, urlParams.limit, urlParams.cursor))
      )
      .handle("repoSettings", ({ path }) => asPrincipal((p) => villages.repoSettings(p, path.id)))
      .handle("updateRepoSettings", ({ path, payload }) => asPrincipal((p) => villages.updateRepoSettings(p, path.id, payload)))
  })
)

export const GitHubAppStatusHttp = HttpApiBuilder.group(Api, "githubAppStatus", (handlers) =>
  Effect.gen(function* () {
    const installations = yield* Installations
    return handlers.handle("status", ({ path }) => asPrincipal((p) => installations.appStatus(p, path.repo_id)))
  })
)
