import { SqlClient } from "@effect/sql"
import { Data, Duration, Effect, Either, Layer, Metric, Option, Schema } from "effect"
import { requireSuperuser } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { Bugs } from "../Bugs/Bugs.js"
import { AppConfig } from "../Config.js"
import type { UpstreamOutcome } from "../Domain/BugLifecycle.js"
import { Conflict, ServiceUnavailable } from "../Domain/Errors.js"
import type { RepoId } from "../Domain/Ids.js"
import { decodeCursor, SeqCursor, toPage } from "../Domain/Page.js"
import { type PlannedChange, ReconcileRun, type RecoveryResult } from "../Domain/Reconcile.js"
import { type GitHubApp, GitHubClient, type HttpError, isRateLimited, retryAfterOf } from "../GitHub/Client.js"
import { Leader } from "../Leader/Leader.js"
import { reconcileDiscrepancies } from "../Metrics/Series.js"
import { decodeJsonRows } from "../Sql/Json.js"
import { withDb } from "../Sql/Retry.js"
import { type InstalledRepo, Installations } from "../Villages/Installations.js"
import { Villages } from "../Villages/Villages.js"
import { Issue } from "../Webhooks/GitHub.js"
import { upstreamOfIssue } from "../Webhooks/Sync.js"
import { Webhooks } from "../Webhooks/Webhooks.js"

/**
 * Contract §11. The reconciler brings each installed repo's bugs in line with its GitHub issues,
 * through the same lifecycle command as webhooks (`Bugs.syncFromUpstream`, source `reconcile`), so
 * events and rooms behave alike; missed-delivery recovery asks GitHub to redeliver what the ledger
 * lacks. Both run on the leader only (`Leader.scheduled`), and by hand through the API. This
 * service owns `reconcile_runs`, `reconcile_cursors`, `recovery_runs` and `webhook_redeliveries`.
 */

const perPage = 100
/** GitHub keeps an App's deliveries for 3 days. */
const deliveryWindow = Duration.days(3)
/** Tries of one page that GitHub rate-limits, each after the wait it asks for. */
const rateLimitTries = 3

const ListedIssue = Schema.Struct({ ...Issue.fields, pull_request: Schema.optional(Schema.Unknown) })
const decodeIssues = Schema.decodeUnknown(Schema.Array(ListedIssue))

const HookDelivery = Schema.Struct({
  id: Schema.Number,
  guid: Schema.String,
  delivered_at: Schema.String,
  redelivery: Schema.optional(Schema.Boolean),
  status: Schema.optional(Schema.String),
  status_code: Schema.optional(Schema.Number),
  event: Schema.String,
  action: Schema.optional(Schema.NullOr(Schema.String))
})
const decodeDeliveries = Schema.decodeUnknown(Schema.Array(HookDelivery))

/** The `rel="next"` URL of a `Link` header. */
const nextLink = (link: string | undefined) => (link === undefined ? undefined : /<([^>]+)>;\s*rel="next"/.exec(link)?.[1])

const changeOf: Record<Exclude<UpstreamOutcome, "unchanged">, PlannedChange["change"]> = {
  created: "create",
  updated: "update",
  resolved: "resolve",
  reopened: "reopen"
}

interface Counts {
  created: number
  updated: number
  resolved: number
  reopened: number
  unchanged: number
}

const runColumns = `json_build_object(
  'id', r.id, 'repo_id', r.repo_id, 'dry_run', r.dry_run, 'trigger', r.trigger, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.finished_at, 'created', r.created, 'updated', r.updated,
  'resolved', r.resolved, 'reopened', r.reopened, 'unchanged', r.unchanged, 'planned', r.planned, 'error', r.error)`
const decodeRuns = decodeJsonRows(ReconcileRun)

/** GitHub refused, failed, or kept rate-limiting: the run ends `failed` with this message. */
/** A run as the status page shows the latest one. */
export interface LastRun {
  readonly id: string
  readonly started_at: Date
  readonly finished_at: Date | null
  readonly status: string
}

class GitHubFailure extends Data.TaggedError("GitHubFailure")<{ readonly message: string }> {}

export class Reconciler extends Effect.Service<Reconciler>()("bugbots/Reconciler", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const bugs = yield* Bugs
    const villages = yield* Villages
    const installations = yield* Installations
    const webhooks = yield* Webhooks
    const { app } = yield* GitHubClient
    const config = yield* AppConfig

    const requireApp = Option.match(app, {
      onNone: () => Effect.fail(new ServiceUnavailable({ message: "the GitHub App's credentials (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY) are not set" })),
      onSome: Effect.succeed
    })

    /**
     * One GitHub request, waiting out rate limits as GitHub asks (`retry-after`, or the reset of an
     * exhausted limit; scaled by `BUGBOTS_GITHUB_WAIT_SCALE` for tests) up to `rateLimitTries`
     * times, as long as a wait is no longer than `BUGBOTS_GITHUB_MAX_WAIT`. A 304 is an answer.
     */
    const request = <A>(call: () => Promise<A>): Effect.Effect<A | "not_modified", GitHubFailure> =>
      Effect.gen(function* () {
        for (let attempt = 1; ; attempt++) {
          const result = yield* Effect.either(Effect.tryPromise({ try: call, catch: (error) => error as HttpError }))
          if (Either.isRight(result)) return result.right
          const error = result.left
          if (error.status === 304) return "not_modified" as const
          const wait = retryAfterOf(error, Date.now())
          const scaled = Duration.millis(Math.round((wait ?? 60) * 1000 * config.githubWaitScale))
          if (!isRateLimited(error) || attempt >= rateLimitTries || Duration.greaterThan(scaled, config.githubMaxWait)) {
            return yield* Effect.fail(new GitHubFailure({ message: `${error.status ?? "network"} ${error.message ?? String(error)}`.slice(0, 2000) }))
          }
          yield* Effect.logInfo("GitHub rate limit: waiting as asked").pipe(Effect.annotateLogs({ seconds: wait ?? 60 }))
          yield* Effect.sleep(scaled)
        }
      })

    /** An answer that exhausted the rate limit: the next request waits for its reset. */
    const paceBy = (headers: Record<string, string | number | undefined>) => {
      if (String(headers["x-ratelimit-remaining"]) !== "0") return Effect.void
      const reset = Number(headers["x-ratelimit-reset"])
      const wait = Number.isFinite(reset) ? Math.max(0, reset - Date.now() / 1000) : 60
      return Effect.sleep(Duration.millis(Math.min(Math.round(wait * 1000 * config.githubWaitScale), Duration.toMillis(config.githubMaxWait))))
    }

    const startRun = (repoId: RepoId, dryRun: boolean, trigger: "schedule" | "manual") =>
      sql<{ id: string; started_at: Date }>`
        insert into reconcile_runs (repo_id, dry_run, trigger, status) values (${repoId}, ${dryRun}, ${trigger}, 'running')
        returning id, started_at`.pipe(Effect.map((rows) => rows[0]))

    const finishRun = (id: string, status: "succeeded" | "not_modified" | "failed", counts: Counts, planned: ReadonlyArray<PlannedChange>, error: string | null) =>
      sql<{ json: string }>`
        update reconcile_runs r set status = ${status}, finished_at = now(), created = ${counts.created}, updated = ${counts.updated},
          resolved = ${counts.resolved}, reopened = ${counts.reopened}, unchanged = ${counts.unchanged},
          planned = ${JSON.stringify(planned)}::text::jsonb, error = ${error}
        where r.id = ${id} returning ${sql.literal(runColumns)}::text as json`.pipe(
        Effect.flatMap((rows) => decodeRuns(rows)),
        Effect.map((runs) => runs[0])
      )

    /**
     * One run over one repo: issues updated since the last successful run, oldest change first, at
     * most `BUGBOTS_RECONCILE_BATCH` of them (the next run goes on from the last one taken).
     */
    const reconcileRepo = (gh: GitHubApp, repo: InstalledRepo, dryRun: boolean, trigger: "schedule" | "manual") =>
      Effect.gen(function* () {
        const run = yield* startRun(repo.id, dryRun, trigger).pipe(withDb)
        const cursor = Option.fromNullable(
          (yield* sql<{ since: Date | null; etag: string | null; etag_since: Date | null }>`
            select since, etag, etag_since from reconcile_cursors where repo_id = ${repo.id}`.pipe(withDb))[0]
        )
        const since = Option.flatMapNullable(cursor, (c) => c.since)
        const etag = Option.flatMap(cursor, (c) =>
          c.etag !== null && (c.etag_since?.getTime() ?? null) === Option.getOrNull(Option.map(since, (d) => d.getTime())) ? Option.some(c.etag) : Option.none()
        )
        const counts: Counts = { created: 0, updated: 0, resolved: 0, reopened: 0, unchanged: 0 }
        const planned: Array<PlannedChange> = []
        const octokit = gh.installation(repo.installation_id)
        const [owner, name] = repo.full_name.split("/")
        let taken = 0
        let lastUpdated: string | undefined
        let firstEtag: string | undefined
        let cut = false

        const apply = (issue: typeof ListedIssue.Type) =>
          Effect.gen(function* () {
            const upstream = upstreamOfIssue({ id: repo.id, village_id: repo.village_id }, issue, "reconcile", "reconcile")
            const outcome = dryRun
              ? yield* bugs.previewUpstream(upstream).pipe(withDb)
              : (yield* sql.withTransaction(bugs.syncFromUpstream(upstream)).pipe(withDb)).outcome
            counts[outcome]++
            if (outcome === "unchanged") return
            yield* Metric.increment(Metric.tagged(reconcileDiscrepancies, "kind", outcome))
            if (dryRun) planned.push({ issue_number: issue.number, issue_id: issue.id, title: issue.title, change: changeOf[outcome] })
          })

        const listing = Effect.gen(function* () {
          let next: string | undefined
          for (let page = 1; ; page++) {
            const response = yield* request(() =>
              next === undefined
                ? octokit.request("GET /repos/{owner}/{repo}/issues", {
                  owner,
                  repo: name,
                  state: "all",
                  sort: "updated",
                  direction: "asc",
                  per_page: perPage,
                  ...(Option.isSome(since) ? { since: since.value.toISOString() } : {}),
                  ...(Option.isSome(etag) ? { headers: { "if-none-match": etag.value } } : {})
                })
                : octokit.request({ method: "GET", url: next })
            )
            if (response === "not_modified") return "not_modified" as const
            if (page === 1) firstEtag = response.headers.etag
            const issues = yield* decodeIssues(response.data).pipe(Effect.mapError(() => new GitHubFailure({ message: "GitHub listed issues in a shape bugbots does not read" })))
            for (const issue of issues) {
              if (taken >= config.reconcileBatch) {
                cut = true
                return "listed" as const
              }
              taken++
              lastUpdated = issue.updated_at ?? lastUpdated
              if (issue.pull_request !== undefined) continue
              yield* apply(issue)
            }
            next = nextLink(response.headers.link)
            if (next === undefined) return "listed" as const
            yield* paceBy(response.headers)
          }
        })

        const result = yield* listing.pipe(
          Effect.map((listed) => ({ listed, error: null as string | null })),
          Effect.catchTag("GitHubFailure", (error) => Effect.succeed({ listed: "failed" as const, error: error.message }))
        )
        if (!dryRun && result.listed === "listed") {
          // The next run lists from the newest change taken, by GitHub's own clock (`since` includes it,
          // and an issue seen again is unchanged). When that is where this run started, the answer's
          // ETag is kept for it: the same listing again is a 304, which costs no rate limit.
          const watermark = lastUpdated === undefined ? Option.getOrNull(since) : new Date(lastUpdated)
          const keepEtag = !cut && firstEtag !== undefined && watermark?.getTime() === Option.getOrNull(since)?.getTime()
          yield* sql`
            insert into reconcile_cursors (repo_id, since, etag, etag_since, last_success_at)
            values (${repo.id}, ${watermark}, ${keepEtag ? (firstEtag ?? null) : null}, ${keepEtag ? watermark : null}, now())
            on conflict (repo_id) do update set since = excluded.since, etag = excluded.etag, etag_since = excluded.etag_since,
              last_success_at = excluded.last_success_at`.pipe(withDb)
        }
        const status = result.listed === "failed" ? "failed" : result.listed === "not_modified" ? "not_modified" : "succeeded"
        return yield* finishRun(run.id, status, counts, planned, result.error).pipe(withDb)
      })

    /** `POST /repos/{id}/reconcile`. */
    const reconcileNow = Effect.fn("Reconciler.reconcileNow")(function* (principal: Principal, id: RepoId, dryRun: boolean) {
      yield* villages.authorizedRepo(principal, id, "manage_resources")
      const gh = yield* requireApp
      const installed = yield* installations.installedRepos(id).pipe(withDb)
      if (installed.length === 0) return yield* new Conflict({ message: "no active installation of the GitHub App covers this repo" })
      return yield* reconcileRepo(gh, installed[0], dryRun, "manual")
    })

    /** Every installed repo, one after the other (the leader's scheduled run). */
    const reconcileAll = Effect.gen(function* () {
      const gh = yield* requireApp
      for (const repo of yield* installations.installedRepos().pipe(withDb)) {
        const run = yield* reconcileRepo(gh, repo, false, "schedule")
        if (run.status === "failed") yield* Effect.logWarning("reconcile run failed").pipe(Effect.annotateLogs({ repo: repo.full_name, error: run.error }))
      }
    }).pipe(Effect.withSpan("Reconciler.reconcileAll"))

    const runs = Effect.fn("Reconciler.runs")(function* (principal: Principal, id: RepoId, limit: number, cursor: string | undefined) {
      yield* villages.authorizedRepo(principal, id, "read")
      const after = yield* decodeCursor(cursor, SeqCursor)
      const rows = yield* sql<{ json: string; seq: string }>`
        select ${sql.literal(runColumns)}::text as json, r.seq from reconcile_runs r
        where r.repo_id = ${id} ${after === undefined ? sql`` : sql`and r.seq < ${after[0]}`}
        order by r.seq desc limit ${limit + 1}`.pipe(withDb)
      const page = toPage(rows, limit, (row) => row, (row) => [Number(row.seq)])
      return { items: yield* decodeRuns(page.items), next_cursor: page.next_cursor }
    })

    /**
     * Missed-delivery recovery: every delivery GitHub lists within its window whose GUID the ledger
     * lacks is redelivered, once per GUID (`webhook_redeliveries` remembers what was asked).
     */
    const recover = (dryRun: boolean) =>
      Effect.gen(function* () {
        const gh = yield* requireApp
        const oldest = Date.now() - Duration.toMillis(deliveryWindow)
        const latest = new Map<string, typeof HookDelivery.Type>()
        let next: string | undefined
        for (;;) {
          const response = yield* request(() =>
            next === undefined ? gh.app.request("GET /app/hook/deliveries", { per_page: perPage }) : gh.app.request({ method: "GET", url: next })
          )
          if (response === "not_modified") break
          const deliveries = yield* decodeDeliveries(response.data).pipe(Effect.mapError(() => new GitHubFailure({ message: "GitHub listed deliveries in a shape bugbots does not read" })))
          let inWindow = true
          for (const delivery of deliveries) {
            if (Date.parse(delivery.delivered_at) < oldest) {
              inWindow = false
              continue
            }
            const known = latest.get(delivery.guid)
            if (known === undefined || Date.parse(known.delivered_at) < Date.parse(delivery.delivered_at)) latest.set(delivery.guid, delivery)
          }
          next = nextLink(response.headers.link)
          if (next === undefined || !inWindow) break
        }
        const listed = [...latest.values()]
        const received = yield* webhooks.received(listed.map((d) => ({ guid: d.guid, event: d.event }))).pipe(withDb)
        const missing = listed.filter((d) => !received.has(d.guid))
        const asked = missing.length === 0
          ? new Set<string>()
          : new Set((yield* sql<{ guid: string }>`select guid from webhook_redeliveries where guid in ${sql.in(missing.map((d) => d.guid))}`.pipe(withDb)).map((r) => r.guid))
        const toAsk = missing.filter((d) => !asked.has(d.guid))
        if (!dryRun) {
          for (const delivery of toAsk) {
            yield* request(() => gh.app.request("POST /app/hook/deliveries/{delivery_id}/attempts", { delivery_id: delivery.id }))
            yield* sql`
              insert into webhook_redeliveries (guid, github_delivery_id, event) values (${delivery.guid}, ${delivery.id}, ${delivery.event})
              on conflict (guid) do nothing`.pipe(withDb)
          }
        }
        const result: RecoveryResult = { dry_run: dryRun, checked: listed.length, missing: missing.length, redelivered: toAsk.length }
        yield* sql`
          insert into recovery_runs (dry_run, finished_at, checked, missing, redelivered)
          values (${dryRun}, now(), ${result.checked}, ${result.missing}, ${result.redelivered})`.pipe(withDb)
        return result
      })

    /** `POST /admin/webhook-deliveries/recover`. */
    const recoverNow = Effect.fn("Reconciler.recoverNow")(function* (principal: Principal, dryRun: boolean) {
      yield* requireSuperuser(principal, "run missed-delivery recovery")
      return yield* recover(dryRun).pipe(Effect.catchTag("GitHubFailure", (e) => Effect.fail(new ServiceUnavailable({ message: `GitHub: ${e.message}` }))))
    })

    /** The latest reconcile run (of any repo) and recovery run, for the status page. */
    const lastRuns = Effect.gen(function* () {
      const [reconcile] = yield* sql<LastRun>`
        select id, started_at, finished_at, status from reconcile_runs order by seq desc limit 1`
      const [recovery] = yield* sql<LastRun>`
        select id, started_at, finished_at, case when error is null then 'succeeded' else 'failed' end as status
        from recovery_runs order by started_at desc limit 1`
      return { reconcile: Option.fromNullable(reconcile), recovery: Option.fromNullable(recovery) }
    })

    return { reconcileNow, reconcileAll, runs, recover, recoverNow, lastRuns, appConfigured: Option.isSome(app) } as const
  }),
  dependencies: [Bugs.Default, Villages.Default, Installations.Default, Webhooks.Default, GitHubClient.Default]
}) {}

/** The reconciler and recovery on the leader, every `BUGBOTS_RECONCILE_INTERVAL` and `BUGBOTS_RECOVERY_INTERVAL`. */
export const ReconcilerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const reconciler = yield* Reconciler
    const leader = yield* Leader
    const config = yield* AppConfig
    if (!reconciler.appConfigured) return yield* Effect.logInfo("reconciler and recovery off: the GitHub App's credentials are not set")
    yield* leader.scheduled("reconcile", config.reconcileInterval, reconciler.reconcileAll)
    yield* leader.scheduled("recovery", config.recoveryInterval, reconciler.recover(false))
  })
)
