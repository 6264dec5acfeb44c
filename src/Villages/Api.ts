import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { JsonBody } from "../Http/JsonBody.js"
import { Conflict, Forbidden, NotFound, ValidationFailed } from "../Domain/Errors.js"
import { RepoId, UserId, VillageId } from "../Domain/Ids.js"
import { Page, PageParams } from "../Domain/Page.js"
import { Membership, SetMember } from "../Domain/User.js"
import { CreateRepo, CreateVillage, GitHubAppStatus, Repo, RepoSettings, UpdateRepoSettings, UpdateVillageSettings, Village, VillageSettings } from "../Domain/Village.js"

const VillagePath = Schema.Struct({ id: VillageId })
const MemberPath = Schema.Struct({ id: VillageId, user_id: UserId })
const PageQuery = Schema.Struct(PageParams)
const RepoPath = Schema.Struct({ id: RepoId })

/** Contract §4: villages (GitHub accounts), their members and repos. */
export class VillagesApi extends HttpApiGroup.make("villages")
  .add(
    HttpApiEndpoint.post("create", "/villages")
      .setPayload(CreateVillage)
      .addSuccess(Village, { status: 201 })
      .addError(Forbidden)
      .addError(Conflict)
  )
  .add(HttpApiEndpoint.get("list", "/villages").setUrlParams(PageQuery).addSuccess(Page(Village)).addError(ValidationFailed))
  .add(HttpApiEndpoint.get("get", "/villages/:id").setPath(VillagePath).addSuccess(Village).addError(NotFound))
  .add(HttpApiEndpoint.get("settings", "/villages/:id/settings").setPath(VillagePath).addSuccess(VillageSettings).addError(NotFound).addError(Forbidden))
  .add(
    HttpApiEndpoint.put("updateSettings", "/villages/:id/settings")
      .setPath(VillagePath)
      .setPayload(UpdateVillageSettings)
      .addSuccess(VillageSettings)
      .addError(NotFound)
      .addError(Forbidden)
  )
  .add(
    HttpApiEndpoint.put("setMember", "/villages/:id/members/:user_id")
      .setPath(MemberPath)
      .setPayload(SetMember)
      .addSuccess(Membership)
      .addError(NotFound)
      .addError(Forbidden)
  )
  .add(
    HttpApiEndpoint.del("removeMember", "/villages/:id/members/:user_id")
      .setPath(MemberPath)
      .addSuccess(Schema.Void, { status: 204 })
      .addError(NotFound)
      .addError(Forbidden)
  )
  .add(
    HttpApiEndpoint.post("createRepo", "/villages/:id/repos")
      .setPath(VillagePath)
      .setPayload(CreateRepo)
      .addSuccess(Repo, { status: 201 })
      .addError(NotFound)
      .addError(Forbidden)
      .addError(Conflict)
  )
  .add(
    HttpApiEndpoint.get("listRepos", "/villages/:id/repos")
      .setPath(VillagePath)
      .setUrlParams(PageQuery)
      .addSuccess(Page(Repo))
      .addError(NotFound)
      .addError(ValidationFailed)
  )
  .add(HttpApiEndpoint.get("repoSettings", "/repos/:id/settings").setPath(RepoPath).addSuccess(RepoSettings).addError(NotFound).addError(Forbidden))
  .add(
    HttpApiEndpoint.put("updateRepoSettings", "/repos/:id/settings")
      .setPath(RepoPath)
      .setPayload(UpdateRepoSettings)
      .addSuccess(RepoSettings)
      .addError(NotFound)
      .addError(Forbidden)
      .annotate(
        OpenApi.Description,
        "Admins and maintainers. comment_on_issues: a claim, awaiting_verification and a resolution (resolved, closed) of a bug from a " +
          "GitHub issue upsert one comment on the issue (marker bug, a bot action) while the repo has a live installation."
      )
  )
  .middleware(Authentication)
  .middleware(JsonBody)
  .prefix("/api") {}

/** Contract §10: the GitHub App's installation on a repo, under `/api/v1`. */
export class GitHubAppStatusApi extends HttpApiGroup.make("githubAppStatus")
  .add(
    HttpApiEndpoint.get("status", "/repos/:repo_id/github-app-status")
      .setPath(Schema.Struct({ repo_id: RepoId }))
      .addSuccess(GitHubAppStatus)
      .addError(NotFound)
      .addError(Forbidden)
      .annotate(
        OpenApi.Description,
        "The GitHub App's installation on the repo (readers of the repo), from what installation and installation_repositories " +
          "deliveries recorded: the live link if there is one, else the latest. installed: linked, not removed, not deleted (a " +
          "suspended installation is installed, suspended: true). A repo never installed has nulls and updated_at null."
      )
  )
  .middleware(Authentication)
  .prefix("/api/v1") {}
