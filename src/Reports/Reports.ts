import { SqlClient } from "@effect/sql"
import { Cache, Duration, Effect, Exit, Option, Schedule, Schema } from "effect"
import { Auth } from "../Auth/Auth.js"
import { authorize } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { Bugs } from "../Bugs/Bugs.js"
import { AppConfig } from "../Config.js"
import { Forbidden, NotFound, RateLimited, Unauthenticated } from "../Domain/Errors.js"
import type { BugId, IngestKeyId, RepoId, VillageId } from "../Domain/Ids.js"
import { decodeCursor, SeqCursor, toPage } from "../Domain/Page.js"
import { CannotMerge, CreatedIngestKey, Grouping, NativeReport, ReportReceipt, type ReportStatus } from "../Domain/Report.js"
import { RateLimits } from "../RateLimits/RateLimits.js"
import { reportsIngested } from "../Metrics/Series.js"
import { withDb } from "../Sql/Retry.js"
import { Villages } from "../Villages/Villages.js"
import { fromNative, fromStored, releaseShaOf, type ReportEvent, titleOf } from "./Event.js"
import { fingerprintOf } from "./Grouping.js"
import { ReportsRepo } from "./ReportsRepo.js"

const encodeNative = Schema.encodeSync(NativeReport)

/** How long an ingest key is trusted from memory (a revoked one is forgotten at commit by every instance). */
const keyTtl = Duration.seconds(5)
/** How long a project id's repo is remembered (it never changes; a deleted repo is forgotten by then). */
const projectTtl = Duration.minutes(1)
/** How often reports are counted into their bugs, and how many at a time. */
const countInterval = Duration.millis(200)
const countBatch = 5000
/** Ticks of `countInterval` between counts when this instance stored nothing. */
const idleCountEvery = 25

/** A repo's ingest key as a Sentry request presents it: the key's repo must be the project's. */
export interface IngestTarget {
  readonly keyId: IngestKeyId
  readonly repo: { readonly id: RepoId; readonly village_id: VillageId }
}

/**
 * Error reports (contract §9): ingest keys, storing and grouping occurrences into bugs, counting
 * them, regressions, merge and unmerge, occurrences and grouping read back.
 */
export class Reports extends Effect.Service<Reports>()("bugbots/Reports", {
  scoped: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* ReportsRepo
    const bugs = yield* Bugs
    const villages = yield* Villages
    const config = yield* AppConfig
    const auth = yield* Auth
    const limits = yield* RateLimits

    const repoOrNotFound = (id: RepoId) =>
      villages.findRepo(id).pipe(Effect.flatMap(Option.match({ onNone: () => Effect.fail(NotFound.of("repo", id)), onSome: Effect.succeed })))

    const projectOf = (id: RepoId) => villages.projectOf(id).pipe(Effect.map(Option.getOrThrow))

    const dsnOf = (publicKey: string, projectId: number, requestBase: string) => {
      const base = new URL(Option.getOrElse(config.publicUrl, () => requestBase))
      const path = base.pathname.replace(/\/+$/, "")
      return `${base.protocol}//${publicKey}@${base.host}${path}/${projectId}`
    }

    const createKey = Effect.fn("Reports.createKey")(function* (principal: Principal, repoId: RepoId, name: string, requestBase: string) {
      yield* villages.authorizedRepo(principal, repoId, "manage_resources")
      const projectId = yield* projectOf(repoId)
      const { key, publicKey } = yield* repo.createKey(repoId, name, projectId).pipe(withDb)
      return new CreatedIngestKey({
        id: key.id,
        name: key.name,
        public_key: publicKey,
        project_id: projectId,
        dsn: dsnOf(publicKey, projectId, requestBase),
        created_at: key.created_at
      })
    })

    const listKeys = Effect.fn("Reports.listKeys")(function* (principal: Principal, repoId: RepoId) {
      yield* villages.authorizedRepo(principal, repoId, "read")
      return yield* repo.listKeys(repoId, yield* projectOf(repoId)).pipe(withDb)
    })

    const revokeKey = Effect.fn("Reports.revokeKey")(function* (principal: Principal, repoId: RepoId, keyId: IngestKeyId) {
      yield* villages.authorizedRepo(principal, repoId, "manage_resources")
      if (!(yield* repo.revokeKey(repoId, keyId).pipe(withDb))) return yield* Effect.fail(NotFound.of("ingest key", keyId))
      yield* keys.invalidateAll
    })

    const keys = yield* Cache.makeWith({
      capacity: 10_000,
      lookup: (publicKey: string) => repo.keyOf(publicKey).pipe(withDb),
      timeToLive: (exit) => (Exit.isSuccess(exit) && Option.isSome(exit.value) ? keyTtl : Duration.zero)
    })

    // A project id names its repo for the repo's life: remembered, so a report reads no row for it.
    const projects = yield* Cache.makeWith({
      capacity: 10_000,
      lookup: (projectId: number) => villages.repoOfProject(projectId),
      timeToLive: (exit) => (Exit.isSuccess(exit) && Option.isSome(exit.value) ? projectTtl : Duration.zero)
    })

    /**
     * The repo a Sentry request may report to: its key (401 when missing, unknown or revoked) must
     * belong to the project it addresses (403 otherwise).
     */
    const target = (publicKey: string | undefined, projectId: number) =>
      Effect.gen(function* () {
        if (publicKey === undefined || publicKey.length === 0 || publicKey.length > 200) {
          return yield* Effect.fail(new Unauthenticated({ message: "no sentry_key: send it in the query or X-Sentry-Auth" }))
        }
        const key = yield* keys.get(publicKey)
        if (Option.isNone(key)) return yield* Effect.fail(new Unauthenticated({ message: "unknown or revoked sentry_key" }))
        const project = yield* projects.get(projectId)
        if (Option.isNone(project) || project.value.id !== key.value.repo_id) {
          return yield* Effect.fail(new Forbidden({ message: `this key does not report to project ${projectId}` }))
        }
        return { keyId: key.value.id, repo: project.value } satisfies IngestTarget
      })

    /**
     * Stores one report and groups it, in one transaction, answering once it is durable. A known
     * fingerprint is the common case and touches no bug row (the counters follow in batches, see
     * `countReports`); a new one creates its bug, first reports of one fingerprint being serialised
     * so that 20 at once make one bug. A report on a resolved bug may reopen it (`regressed`).
     */
    /** Reports this instance stored since it last counted. */
    let storedSinceCount = 0

    const ingest = Effect.fn("Reports.ingest")(function* (
      into: { readonly id: RepoId; readonly village_id: VillageId },
      report: ReportEvent,
      event: string,
      eventId: string,
      standing: ReportStatus = "open"
    ) {
      const { fingerprint, components } = fingerprintOf(report)
      const occurrence = { repoId: into.id, eventId, fingerprint, report, event }
      // A known fingerprint on a bug the report cannot reopen: one statement, no transaction.
      const known = yield* repo.storeKnown(occurrence, standing === "open").pipe(withDb)
      if (Option.isSome(known) && !(known.value.resolved && standing === "open")) {
        const { bug_id, occurrence_id } = known.value
        if (occurrence_id !== null) {
          storedSinceCount += 1
          reportsIngested.unsafeUpdate(1, [])
          return new ReportReceipt({ occurrence_id, bug_id, fingerprint, new_bug: false, regressed: false, duplicate: false }, true)
        }
      }
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          let stored = yield* repo.storeKnown(occurrence, false)
          let newBug = false
          if (Option.isNone(stored)) {
            yield* repo.lockFingerprint(into.id, fingerprint)
            stored = yield* repo.storeKnown(occurrence, false)
            if (Option.isNone(stored)) {
              const created = yield* bugs.createReported(into, {
                title: titleOf(report),
                description: report.message.length > 65536 ? report.message.slice(0, 65536) : report.message,
                severity: report.severity,
                category: report.category,
                metadata: {
                  ...(report.component === null ? {} : { component: report.component }),
                  ...(report.route === null ? {} : { route: report.route })
                },
                status: standing,
                report: {
                  seen: report.occurred_at ?? new Date(),
                  release: report.release,
                  environment: report.environment,
                  trace_id: report.trace_id,
                  request_id: report.request_id,
                  release_sha: releaseShaOf(report)
                }
              })
              const occurrenceId = yield* repo.storeFirst(occurrence, created.bug.id, components)
              stored = Option.some({ bug_id: created.bug.id, occurrence_id: occurrenceId, resolved: false })
              newBug = true
            }
          }
          const { bug_id, occurrence_id } = Option.getOrThrow(stored)
          storedSinceCount += 1
          if (occurrence_id === null) {
            // The same event id again: it counts once.
            const earlier = Option.getOrThrow(yield* repo.findByEventId(into.id, eventId))
            return new ReportReceipt({ occurrence_id: earlier.id, bug_id: earlier.bug_id, fingerprint: earlier.fingerprint, new_bug: false, regressed: false, duplicate: true })
          }
          // A report already settled where it came from (an import) reopens nothing.
          const regressed = newBug || standing !== "open"
            ? false
            : yield* bugs.regress(bug_id, {
                release: report.release,
                releaseIsNewer: (than) => repo.isNewerRelease(into.id, report.release, than)
              })
          return new ReportReceipt({ occurrence_id, bug_id, fingerprint, new_bug: newBug, regressed, duplicate: false })
        })
      ).pipe(withDb, Effect.tap((receipt) => (receipt.duplicate ? undefined : reportsIngested.unsafeUpdate(1, []))))
    })

    /**
     * `POST /api/reports`: the bearer token is an ingest key's public key (the report goes to its
     * repo, under its rate limit), else a user's or agent's token (see `reportAs`).
     */
    const report = Effect.fn("Reports.report")(function* (token: string, report: NativeReport) {
      const key = token.length > 0 && token.length <= 200 ? yield* keys.get(token) : Option.none()
      if (Option.isNone(key)) return yield* reportAs(yield* auth.authenticate(token), report)
      const into = yield* repoOrNotFound(key.value.repo_id)
      if (report.repo_id !== undefined && report.repo_id !== into.id) {
        return yield* Effect.fail(new Forbidden({ message: "this ingest key reports to another repo" }))
      }
      const limited = yield* limits.ingest(key.value.id)
      if (Option.isSome(limited)) {
        const seconds = Math.max(1, Math.ceil(Duration.toSeconds(limited.value.retryAfter)))
        return yield* Effect.fail(
          new RateLimited({ message: "this ingest key sent more reports this minute than allowed", details: { retry_after_seconds: seconds } })
        )
      }
      return yield* ingestNative(into, report)
    })

    /** `POST /api/reports` with a user's or agent's token: into `repo_id`, for those who may triage its village. */
    const reportAs = Effect.fn("Reports.reportAs")(function* (principal: Principal, report: NativeReport) {
      if (report.repo_id === undefined) {
        return yield* Effect.fail(new NotFound({ message: "repo_id is required with a user or agent token" }))
      }
      const into = yield* repoOrNotFound(report.repo_id)
      yield* authorize(principal, "triage", { villageId: into.village_id, resource: "repo", resourceId: into.id })
      return yield* ingestNative(into, report)
    })

    const ingestNative = (into: { readonly id: RepoId; readonly village_id: VillageId }, report: NativeReport) =>
      ingest(into, fromNative(report), JSON.stringify(encodeNative(report)), report.event_id ?? crypto.randomUUID().replaceAll("-", ""), report.status)

    /** Counts up to `countBatch` reports into their bugs; how many. Each counted once, by one instance. */
    const countReports = sql.withTransaction(
      Effect.gen(function* () {
        const counted = yield* repo.takeUncounted(countBatch)
        yield* bugs.addCounts(counted)
        return counted.reduce((n, c) => n + c.count, 0)
      })
    )

    const occurrences = Effect.fn("Reports.occurrences")(function* (principal: Principal, bugId: BugId, limit: number, cursor: string | undefined) {
      yield* bugs.getJson(principal, bugId)
      const before = yield* decodeCursor(cursor, SeqCursor)
      const rows = yield* repo.occurrences(bugId, limit, before?.[0]).pipe(withDb)
      return toPage(rows, limit, (r) => r.occurrence, (r) => [r.seq])
    })

    /** A bug's latest error reports as events, newest first, for whoever already may read the bug (an analysis). */
    const recentEvents = (bugId: BugId, limit: number) =>
      repo.recent(bugId, limit).pipe(
        withDb,
        Effect.map((rows) =>
          rows.map((row) => ({ event: fromStored(JSON.parse(row.event)), release: row.release, received_at: row.received_at }))
        )
      )

    const grouping = Effect.fn("Reports.grouping")(function* (principal: Principal, bugId: BugId) {
      yield* bugs.getJson(principal, bugId)
      const fingerprints = yield* repo.fingerprintsOf(bugId).pipe(withDb)
      if (fingerprints.length === 0) return yield* Effect.fail(new NotFound({ message: `bug ${bugId} has no error reports` }))
      return new Grouping({ fingerprint: fingerprints[0].fingerprint, components: fingerprints[0].components })
    })

    /** `POST /bugs/{id}/merge`: the bug is closed as a duplicate of `into`, and its fingerprints lead there from now on. */
    const merge = Effect.fn("Reports.merge")(function* (principal: Principal, id: BugId, into: BugId) {
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const merged = yield* bugs.markDuplicate(principal, id, into)
          yield* repo.moveFingerprints(id, into)
          return merged.json
        })
      ).pipe(withDb)
    })

    /** `POST /bugs/{id}/unmerge`: one of the bug's fingerprints, with its reports, becomes a bug of its own. */
    const unmerge = Effect.fn("Reports.unmerge")(function* (principal: Principal, id: BugId, fingerprint: string) {
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const mapped = yield* repo.fingerprintsOf(id)
          if (!mapped.some((m) => m.fingerprint === fingerprint)) {
            return yield* Effect.fail(new CannotMerge({ message: `bug ${id} has no fingerprint ${fingerprint}` }))
          }
          if (mapped.length === 1) {
            return yield* Effect.fail(new CannotMerge({ message: `${fingerprint} is the bug's only fingerprint: there is nothing to split it from` }))
          }
          const latest = yield* repo.latestOf(id, fingerprint)
          const report = Option.map(latest, (l) => fromStored(JSON.parse(l.event) as Record<string, unknown>))
          const created = yield* bugs.splitOut(principal, id, fingerprint, {
            title: Option.match(report, { onNone: () => `split from ${id}: ${fingerprint}`, onSome: titleOf }),
            description: Option.match(report, { onNone: () => null, onSome: (r) => r.message }),
            severity: null,
            category: null,
            metadata: { split_from: id },
            report: { seen: new Date(), release: null, environment: null, trace_id: null, request_id: null, release_sha: null }
          })
          yield* repo.moveFingerprint({ bugId: id, fingerprint }, created.bug.id)
          yield* bugs.setCounts(id, yield* repo.countsOf(id))
          yield* bugs.setCounts(created.bug.id, yield* repo.countsOf(created.bug.id))
          // Counted after the move (counters are not events): the answer reads the row as it now is.
          return yield* bugs.getJson(principal, created.bug.id)
        })
      ).pipe(withDb)
    })

    // Every 200 ms after this instance stored reports; otherwise every 5 s, for what other
    // instances left uncounted (one that stopped): an idle service runs no transaction 5 times a second.
    let ticks = 0
    yield* Effect.suspend(() => {
      ticks += 1
      if (storedSinceCount === 0 && ticks < idleCountEvery) return Effect.void
      storedSinceCount = 0
      ticks = 0
      return countReports.pipe(Effect.repeat({ while: (n) => n >= countBatch }))
    }).pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("counting error reports failed; counting again shortly", cause)),
      Effect.repeat(Schedule.spaced(countInterval)),
      Effect.interruptible,
      Effect.forkScoped
    )

    /** The fingerprints reported most in the last 7 days in `repoIds` (no authorization: callers decide). */
    const topFingerprints = (repoIds: ReadonlyArray<RepoId>, limit: number) => repo.topFingerprints(repoIds, limit).pipe(withDb)

    return { createKey, listKeys, revokeKey, target, ingest, report, occurrences, recentEvents, grouping, merge, unmerge, topFingerprints } as const
  }),
  dependencies: [ReportsRepo.Default, Bugs.Default, Villages.Default, Auth.Default, RateLimits.Default]
}) {}
