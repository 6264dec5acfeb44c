import { SqlClient } from "@effect/sql"
import { Duration, Effect, Layer, Option, Schedule } from "effect"
import type { Principal } from "../Auth/Principal.js"
import { BotActions } from "../BotActions/BotActions.js"
import { AppConfig } from "../Config.js"
import type { BotActionPayload } from "../Domain/BotAction.js"
import { NotFound } from "../Domain/Errors.js"
import { Challenge, type ChallengeStatus, GateSettings, isAllowlisted, isBot, type UpdateGate } from "../Domain/Gate.js"
import type { RepoId, VillageId } from "../Domain/Ids.js"
import { decodeJsonRows, iso, jsonObject } from "../Sql/Json.js"
import { withDb } from "../Sql/Retry.js"
import { Installations } from "../Villages/Installations.js"
import { Villages } from "../Villages/Villages.js"

const settingsJson = (alias: string) =>
  jsonObject(alias, [
    "repo_id", "enabled", "deadline_hours", ["allowlist", `to_jsonb(${alias}.allowlist)`], "exempt_drafts", "message",
    ["updated_at", iso(`${alias}.updated_at`)]
  ])
const challengeJson = (alias: string) =>
  jsonObject(alias, ["status", ["deadline_at", iso(`${alias}.deadline_at`)], "author", ["updated_at", iso(`${alias}.updated_at`)]])
const decodeSettings = decodeJsonRows(GateSettings)
const decodeChallenges = decodeJsonRows(Challenge)
const sweepBatch = 100

/** Where a pull request is, as a delivery names it. */
export interface PullRequestRef {
  readonly repo: { readonly id: RepoId; readonly village_id: VillageId }
  readonly repoFullName: string
  readonly number: number
  readonly installationId: number
}

interface Row {
  readonly enabled: boolean
  readonly deadline_hours: number
  readonly allowlist: ReadonlyArray<string>
  readonly exempt_drafts: boolean
  readonly message: string | null
}

const defaultMessage =
  "Thanks for the pull request, @{author}! This repository asks the authors of pull requests to confirm them: " +
  "comment `/verify` on this pull request before {deadline}, or it will be closed. A maintainer may comment `/approve` instead."

/**
 * The pull-request gate (contract §10), the one owner of `pr_gates` and `pr_challenges`. Its
 * delivery handlers run in the delivery's transaction, and every comment and close they decide is
 * a bot action enqueued in it; the deadline sweeper runs on every instance, and each expired
 * challenge is taken by one (`FOR UPDATE SKIP LOCKED` and a status check in one transaction).
 */
export class Gate extends Effect.Service<Gate>()("bugbots/Gate", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const villages = yield* Villages
    const actions = yield* BotActions
    const installations = yield* Installations
    const settingsSelect = sql.literal(`${settingsJson("g")}::text as json`)
    const challengeSelect = sql.literal(`${challengeJson("c")}::text as json`)

    const settingsRow = (repoId: RepoId) =>
      sql<Row>`select enabled, deadline_hours, allowlist, exempt_drafts, message from pr_gates where repo_id = ${repoId}`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )

    /** `GET /repos/{id}/gate`: readers of the repo; a repo never configured reads as the defaults, disabled. */
    const settings = Effect.fn("Gate.settings")(function* (principal: Principal, repoId: RepoId) {
      yield* villages.authorizedRepo(principal, repoId, "read")
      const rows = yield* sql<{ json: string }>`
        select ${settingsSelect} from (
          select * from pr_gates where repo_id = ${repoId}
          union all
          select ${repoId}::uuid, false, 72, '{}'::text[], true, null, null::timestamptz where not exists (select 1 from pr_gates where repo_id = ${repoId})
        ) g`.pipe(withDb)
      return (yield* decodeSettings(rows))[0]!
    })

    /** `PUT /repos/{id}/gate`: admins and maintainers; challenges already made keep their deadline. */
    const update = Effect.fn("Gate.update")(function* (principal: Principal, repoId: RepoId, gate: UpdateGate) {
      yield* villages.authorizedRepo(principal, repoId, "manage_resources")
      const rows = yield* sql<{ json: string }>`
        with g as (
          insert into pr_gates (repo_id, enabled, deadline_hours, allowlist, exempt_drafts, message)
          values (${repoId}, ${gate.enabled}, ${gate.deadline_hours},
                  array(select jsonb_array_elements_text(${JSON.stringify(gate.allowlist)}::text::jsonb)), ${gate.exempt_drafts}, ${gate.message})
          on conflict (repo_id) do update set enabled = excluded.enabled, deadline_hours = excluded.deadline_hours,
            allowlist = excluded.allowlist, exempt_drafts = excluded.exempt_drafts, message = excluded.message, updated_at = now()
          returning *)
        select ${settingsSelect} from g`.pipe(withDb)
      return (yield* decodeSettings(rows))[0]!
    })

    /** `GET /repos/{id}/pull-requests/{number}/gate`. */
    const challenge = Effect.fn("Gate.challenge")(function* (principal: Principal, repoId: RepoId, number: number) {
      yield* villages.authorizedRepo(principal, repoId, "read")
      const rows = yield* sql<{ json: string }>`
        select ${challengeSelect} from pr_challenges c where c.repo_id = ${repoId} and c.number = ${number}`.pipe(withDb)
      const found = yield* decodeChallenges(rows)
      if (found.length === 0) return yield* Effect.fail(new NotFound({ message: `pull request ${number} has no gate challenge` }))
      return found[0]
    })

    const comment = (pr: PullRequestRef, type: BotActionPayload["type"], body: string) =>
      actions.enqueue({ type, installation_id: pr.installationId, repo_full_name: pr.repoFullName, number: pr.number, marker: "gate", body })

    const setChallenge = (pr: PullRequestRef, author: string, status: ChallengeStatus, deadlineHours: number | null) =>
      sql<{ deadline_at: Date | null }>`
        insert into pr_challenges (repo_id, number, installation_id, repo_full_name, author, status, deadline_at)
        values (${pr.repo.id}, ${pr.number}, ${pr.installationId}, ${pr.repoFullName}, ${author}, ${status},
                ${deadlineHours === null ? null : sql`now() + make_interval(hours => ${deadlineHours})`})
        on conflict (repo_id, number) do update set installation_id = excluded.installation_id, repo_full_name = excluded.repo_full_name,
          author = excluded.author, status = excluded.status, deadline_at = excluded.deadline_at, updated_at = now()
        returning deadline_at`.pipe(Effect.map((rows) => rows[0]?.deadline_at ?? null))

    const current = (pr: PullRequestRef) =>
      sql<{ status: ChallengeStatus; author: string }>`
        select status, author from pr_challenges where repo_id = ${pr.repo.id} and number = ${pr.number} for update`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )

    /**
     * `pull_request` opened, reopened, ready_for_review or synchronize: exempt (a draft says nothing
     * until it is ready; a bot or an allowlisted author is told so), or challenged with a deadline.
     * A challenge already settled or pending is left as it is by `synchronize` and `ready_for_review`.
     */
    const onPullRequest = Effect.fn("Gate.onPullRequest")(function* (
      pr: PullRequestRef,
      action: string,
      pull: { readonly draft: boolean; readonly user: { readonly login: string; readonly type?: string | undefined } }
    ) {
      if (action === "closed") {
        yield* sql`update pr_challenges set status = 'CLOSED', updated_at = now() where repo_id = ${pr.repo.id} and number = ${pr.number} and status = 'PENDING'`
        return
      }
      if (Option.isNone(yield* installations.liveInstallation(pr.repo.id))) return
      const gate = yield* settingsRow(pr.repo.id)
      if (Option.isNone(gate) || !gate.value.enabled) return
      const author = pull.user.login
      const existing = yield* current(pr)
      const fresh = action === "opened" || action === "reopened"
      if (Option.isSome(existing) && !fresh && existing.value.status !== "CLOSED" && existing.value.status !== "EXPIRED") return
      if (Option.isSome(existing) && action === "reopened" && (existing.value.status === "VERIFIED" || existing.value.status === "EXEMPT")) return
      if (pull.draft && gate.value.exempt_drafts) return
      const bot = isBot(pull.user)
      if (bot || isAllowlisted(author, gate.value.allowlist)) {
        yield* setChallenge(pr, author, "EXEMPT", null)
        return yield* comment(
          pr,
          "UPSERT_PR_COMMENT",
          `@${author} is exempt from verification here (${bot ? "a bot" : "on the repository's allowlist"}). Thanks!`
        )
      }
      const deadline = yield* setChallenge(pr, author, "PENDING", gate.value.deadline_hours)
      const text = (gate.value.message ?? defaultMessage)
        .replaceAll("{author}", author)
        .replaceAll("{deadline}", deadline === null ? "the deadline" : deadline.toISOString())
      yield* comment(pr, "UPSERT_PR_COMMENT", text)
    })

    /**
     * `issue_comment` created on a pull request: `/verify` by its author, or `/approve` by an admin
     * or maintainer of the village, makes a pending challenge `VERIFIED` and says so in the gate comment.
     */
    const onComment = Effect.fn("Gate.onComment")(function* (
      pr: PullRequestRef,
      comment_: { readonly body: string | null; readonly user: { readonly login: string; readonly id?: number | undefined } }
    ) {
      const command = (comment_.body ?? "").trim()
      if (command !== "/verify" && command !== "/approve") return
      const existing = yield* current(pr)
      if (Option.isNone(existing) || existing.value.status !== "PENDING") return
      const author = existing.value.author
      let by: string
      if (command === "/verify") {
        if (comment_.user.login.toLowerCase() !== author.toLowerCase()) return
        by = `Verified by @${author}. Thanks!`
      } else {
        if (comment_.user.id === undefined) return
        const role = yield* villages.roleOfGitHubUser(pr.repo.village_id, comment_.user.id)
        if (Option.isNone(role) || (role.value !== "admin" && role.value !== "maintainer")) return
        by = `Approved by @${comment_.user.login} (a maintainer). Thanks, @${author}!`
      }
      yield* sql`update pr_challenges set status = 'VERIFIED', updated_at = now() where repo_id = ${pr.repo.id} and number = ${pr.number}`
      yield* comment(pr, "UPSERT_PR_COMMENT", by)
    })

    /** Expires up to `sweepBatch` pending challenges past their deadline, each closing its pull request. */
    const sweep = sql.withTransaction(
      Effect.gen(function* () {
        const due = yield* sql<{ repo_id: RepoId; number: number; repo_full_name: string; author: string; deadline_at: Date }>`
          select repo_id, number, repo_full_name, author, deadline_at from pr_challenges
          where status = 'PENDING' and deadline_at <= now()
          order by deadline_at limit ${sweepBatch} for update skip locked`
        let expired = 0
        for (const row of due) {
          // While the App is not installed on the repo nothing can be done there: the challenge waits.
          const installation = yield* installations.liveInstallation(row.repo_id)
          if (Option.isNone(installation)) continue
          expired++
          yield* sql`
            update pr_challenges set status = 'EXPIRED', installation_id = ${installation.value}, updated_at = now()
            where repo_id = ${row.repo_id} and number = ${row.number}`
          yield* actions.enqueue({
            type: "CLOSE_PR_WITH_COMMENT",
            installation_id: installation.value,
            repo_full_name: row.repo_full_name,
            number: row.number,
            marker: "gate",
            body: `Closed: @${row.author} did not comment \`/verify\` before the deadline (${row.deadline_at.toISOString()}). Reopen it and comment \`/verify\` to continue.`
          })
        }
        return expired
      })
    )

    return { settings, update, challenge, onPullRequest, onComment, sweep } as const
  }),
  dependencies: [Villages.Default, BotActions.Default, Installations.Default]
}) {}

/**
 * Every instance sweeps deadlines every `BUGBOTS_GATE_SWEEP`; each expired challenge is closed once,
 * as the installation that covers its repo then (one removed or suspended meanwhile: it waits).
 */
export const GateSweeperLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* AppConfig
    const gate = yield* Gate
    yield* gate.sweep.pipe(
      Effect.repeat({ while: (n) => n === sweepBatch }),
      Effect.catchAllCause((cause) => Effect.logWarning("sweeping gate deadlines failed", cause)),
      Effect.repeat(Schedule.spaced(Duration.max(config.gateSweepInterval, Duration.millis(50)))),
      Effect.forkScoped
    )
  })
)
