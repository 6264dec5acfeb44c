import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../Auth/Middleware.js"
import { Forbidden, NotFound } from "../Domain/Errors.js"
import { Challenge, GateSettings, UpdateGate } from "../Domain/Gate.js"
import { RepoId } from "../Domain/Ids.js"
import { JsonBody } from "../Http/JsonBody.js"

const RepoPath = Schema.Struct({ id: RepoId })
const PullPath = Schema.Struct({ id: RepoId, number: Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 2_147_483_647)) })

/** Contract §10: the pull-request gate of a repo, and the challenge of one pull request. */
export class GateApi extends HttpApiGroup.make("gate")
  .add(
    HttpApiEndpoint.get("settings", "/repos/:id/gate")
      .setPath(RepoPath)
      .addSuccess(GateSettings)
      .addError(NotFound)
      .addError(Forbidden)
      .annotate(OpenApi.Description, "The repo's gate (readers of the repo); never configured, it reads as the defaults with enabled false and updated_at null.")
  )
  .add(
    HttpApiEndpoint.put("update", "/repos/:id/gate")
      .setPath(RepoPath)
      .setPayload(UpdateGate)
      .addSuccess(GateSettings)
      .addError(NotFound)
      .addError(Forbidden)
      .annotate(
        OpenApi.Description,
        "Sets the whole gate (admins, maintainers); omitted fields take their defaults. On pull_request opened, reopened, ready_for_review " +
          "and synchronize: a draft (while exempt_drafts) gets nothing until it is ready for review; a bot ([bot] or type Bot) or an " +
          "allowlisted author gets an EXEMPT challenge and a comment saying so; anyone else a PENDING challenge with deadline_at and a " +
          "comment asking for /verify. synchronize and ready_for_review leave an existing challenge alone; reopened challenges again " +
          "unless VERIFIED or EXEMPT; closed turns a PENDING challenge CLOSED (settled ones keep their status). /verify counts from the " +
          "pull request's author, /approve from an admin or maintainer of the village (a bugbots user with that github_id). Every " +
          "comment, and the close of an expired pull request, is a bot action (marker gate). While the App is not installed on the " +
          "repo (removed, deleted, suspended) nothing is challenged and overdue challenges wait until it is installed again."
      )
  )
  .add(
    HttpApiEndpoint.get("challenge", "/repos/:id/pull-requests/:number/gate")
      .setPath(PullPath)
      .addSuccess(Challenge)
      .addError(NotFound)
      .addError(Forbidden)
      .annotate(OpenApi.Description, "The pull request's challenge: PENDING, VERIFIED, EXEMPT, EXPIRED or CLOSED; 404 when it has none.")
  )
  .middleware(Authentication)
  .middleware(JsonBody)
  .prefix("/api") {}
