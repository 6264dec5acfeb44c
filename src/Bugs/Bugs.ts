import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { type DateTime, Effect, Layer, Option, Schema } from "effect"
import { type Action, authorize, canSee } from "../Auth/Policy.js"
import type { AgentPrincipal, Principal } from "../Auth/Principal.js"
import { Agents } from "../Agents/Agents.js"
import { correlationId } from "../Correlation.js"
import { AgentPaused } from "../Domain/Agent.js"
import { Bug, type BugStatus, type ChangeStatus, type CreateBug, isTerminal, type ListBugsParams, type PatchBug } from "../Domain/Bug.js"
import {
  type Actor,
  type Change,
  checkVersion,
  created,
  defaultSlaPolicy,
  planAssign,
  planEdit,
  planMerge,
  planRegression,
  planUnmerge,
  planClaim,
  planLeaseExpiry,
  planRelease,
  planStatus,
  planUpstream,
  upstreamOutcome,
  type UpstreamOutcome,
  systemActor,
  type UpstreamIssue
} from "../Domain/BugLifecycle.js"
import { Forbidden, NotFound } from "../Domain/Errors.js"
import { CannotMerge } from "../Domain/Report.js"
import type { AgentId, BugId, RepoId, VillageId } from "../Domain/Ids.js"
import { Lease } from "../Domain/Lease.js"
import { CreatedCursor, decodeCursor, RankedCursor, SeqCursor, toPage } from "../Domain/Page.js"
import { type ClaimRequest, LeaseRenewed } from "../Domain/Work.js"
import { isIssued, leaseLost, newLeaseToken, sweeper } from "../Leases/Leases.js"
import { decodeJsonRows } from "../Sql/Json.js"
import { withDb } from "../Sql/Retry.js"
import { Villages } from "../Villages/Villages.js"
import { BugsRepo, type Counted, type Current, type NewBug } from "./BugsRepo.js"

export const actorOf = (principal: Principal): Actor => ({ type: principal.type, id: principal.id })

/** Only agents take work, and only while active. */
const worker = (principal: Principal): Effect.Effect<AgentPrincipal, Forbidden | AgentPaused> =>
  principal.type !== "agent"
    ? Effect.fail(new Forbidden({ message: "only agents claim work" }))
    : principal.state === "paused"
    ? Effect.fail(new AgentPaused({ message: `agent ${principal.id} is paused` }))
    : Effect.succeed(principal)

/** The issue a bug mirrors upstream (a GitHub issue), and what it looks like there now. */
export interface UpstreamBug {
  readonly repo: { readonly id: RepoId; readonly village_id: VillageId }
  readonly issue_id: number
  readonly issue_number: number
  readonly source: "webhook" | "reconcile"
  /** Kept in `metadata` when the bug is created (link, author). */
  readonly metadata: Record<string, unknown>
  readonly view: UpstreamIssue
  /** Where a bug created now goes when the view moves it nowhere (an event about an issue closed already). */
  readonly targetWhenNew?: BugStatus | undefined
}

const sweepBatch = 100
/** A change that keeps losing its compare-and-set to others this many times in a row is a bug of ours. */
const maxWriteAttempts = 20
const decodeBugs = decodeJsonRows(Bug)
/** Bugs from their wire objects (a page's rows); one that does not decode is our bug (a defect). */
const decodeWireBugs = Schema.decodeUnknown(Schema.Array(Bug))
/** Bugs from their wire JSON (responses of RPC, which re-encodes them). */
export const decodeJson = (jsons: ReadonlyArray<string>) => decodeBugs(jsons.map((json) => ({ json })))

/** A change made: the bug's wire JSON, and when its lease ends (if it has one). */
interface Written {
  readonly json: string
  readonly leaseExpiresAt: Option.Option<DateTime.Utc>
}

/**
 * Where a bug changes: every command reads the bug, asks a planner of `Domain/BugLifecycle.ts`, and
 * writes the row, its one lifecycle event and its realtime event in one statement (see `apply`).
 * Manual changes, webhooks, claims, releases and lease expiry all come through here.
 */
export class Bugs extends Effect.Service<Bugs>()("bugbots/Bugs", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* BugsRepo
    const villages = yield* Villages
    const agents = yield* Agents

    const author = (actor: Actor) => Effect.map(correlationId, (id) => ({ actor, correlationId: id }))

    const authorizeOn = (principal: Principal, action: Action, bug: { readonly id: BugId; readonly village_id: VillageId; readonly assigned_agent_id: AgentId | null }) =>
      authorize(principal, action, {
        villageId: bug.village_id,
        resource: "bug",
        resourceId: bug.id,
        assignedAgentId: bug.assigned_agent_id
      })

    /** Decides a change of `bug`: `leaseHeld` says whether the lease the change names (if any) is live. */
    type Plan<E, R> = (bug: Bug, leaseHeld: boolean) => Effect.Effect<Change | null, E, R>

    /** Writes what `plan` decided for `current`; None when the bug moved on meanwhile (the compare-and-set failed). */
    const writeChange = <E, R>(current: Current, actor: Actor, plan: Plan<E, R>, leaseToken: string | undefined) =>
      Effect.gen(function* () {
        const change = yield* plan(current.bug, current.leaseHeld)
        if (change === null) return Option.some<Written>({ json: current.json, leaseExpiresAt: Option.none() })
        const next = change.patch.status ?? current.bug.status
        const event = isTerminal(next) && next !== current.bug.status ? "bug_bot_resolved" : "bug_bot_update"
        return yield* repo.write(current.bug, change.patch, change.event, yield* author(actor), event, leaseToken)
      })

    /**
     * The one way a bug changes: read it, let `plan` decide (or refuse, or return null for a no-op),
     * then write the row, its lifecycle event and its realtime event in one statement that checks the
     * bug is still the version that was planned on (and, with `leaseToken`, that the lease is still
     * live). When another change got in between, read and plan again. No lock is held across round
     * trips, and a change costs two of them.
     */
    const apply = <E, R>(id: BugId, actor: Actor, plan: Plan<E, R>, leaseToken?: string): Effect.Effect<Written, E | NotFound | SqlError, R> =>
      Effect.gen(function* () {
        const token = leaseToken !== undefined && isIssued(leaseToken) ? leaseToken : undefined
        for (let attempt = 1; ; attempt++) {
          const current = yield* repo.read(id, token)
          if (Option.isNone(current)) return yield* Effect.fail(NotFound.of("bug", id))
          const written = yield* writeChange(
            leaseToken === undefined || token !== undefined ? current.value : { ...current.value, leaseHeld: false },
            actor,
            plan,
            token
          )
          if (Option.isSome(written)) return written.value
          if (attempt === maxWriteAttempts) return yield* Effect.dieMessage(`bug ${id} changed under ${maxWriteAttempts} attempts in a row`)
        }
      })

    /** Inserts a bug with its `created` event and `bug_bot_spawn`. */
    const insert = (bug: NewBug, actor: Actor, status: BugStatus = "open") =>
      Effect.flatMap(author(actor), (by) => repo.insert(bug, status, created(status), by))

    const load = (id: BugId) =>
      repo.find(id).pipe(withDb, Effect.flatMap(Option.match({ onNone: () => Effect.fail(NotFound.of("bug", id)), onSome: Effect.succeed })))

    const agentRef = (id: AgentId) =>
      agents.ref(id).pipe(Effect.flatMap(Option.match({ onNone: () => Effect.fail(NotFound.of("agent", id)), onSome: Effect.succeed })))

    const get = Effect.fn("Bugs.get")(function* (principal: Principal, id: BugId) {
      const bug = yield* load(id)
      yield* authorizeOn(principal, "read", bug)
      return bug
    })

    /** The bug's wire JSON as stored, for a response that passes it through (no decoding, no encoding). */
    const getJson = Effect.fn("Bugs.getJson")(function* (principal: Principal, id: BugId, action: Action = "read") {
      const found = yield* repo.findJson(id).pipe(withDb)
      if (Option.isNone(found)) return yield* Effect.fail(NotFound.of("bug", id))
      yield* authorizeOn(principal, action, { id, ...found.value })
      return found.value.json
    })

    /** A page of the village's bugs, each as its wire JSON. */
    const listRows = Effect.fn("Bugs.listRows")(function* (principal: Principal, villageId: VillageId, params: ListBugsParams) {
      if (!canSee(principal, villageId)) return yield* Effect.fail(NotFound.of("village", villageId))
      const { sort, limit, cursor, ...filters } = params
      const after = sort === "severity" ? yield* decodeCursor(cursor, RankedCursor) : yield* decodeCursor(cursor, CreatedCursor)
      const rows = yield* repo.list(villageId, filters, sort, limit, after).pipe(withDb)
      // A bug names its village (a foreign key): only an empty page leaves the village's existence to check.
      if (rows.length === 0) yield* villages.find(villageId)
      return toPage(rows, limit, (r) => r.bug, (r) => r.key)
    })

    const list = (principal: Principal, villageId: VillageId, params: ListBugsParams) =>
      listRows(principal, villageId, params).pipe(
        Effect.flatMap((page) => decodeWireBugs(page.items).pipe(Effect.orDie, Effect.map((items) => ({ items, next_cursor: page.next_cursor }))))
      )

    /** The page as the wire JSON of `{items, next_cursor}`: the rows' wire objects, stringified once. */
    const listJson = (principal: Principal, villageId: VillageId, params: ListBugsParams) =>
      listRows(principal, villageId, params).pipe(Effect.map((page) => JSON.stringify(page)))

    const events = Effect.fn("Bugs.events")(function* (principal: Principal, id: BugId, limit: number, cursor: string | undefined) {
      yield* getJson(principal, id)
      const after = yield* decodeCursor(cursor, SeqCursor)
      const rows = yield* repo.events(id, limit, after?.[0]).pipe(withDb)
      return toPage(rows, limit, (r) => r.event, (r) => [r.seq])
    })

    /** `POST /villages/{id}/bugs`: a manual bug; its wire JSON. */
    const create = Effect.fn("Bugs.create")(function* (principal: Principal, villageId: VillageId, input: CreateBug) {
      yield* authorize(principal, "triage", { villageId, resource: "village", resourceId: villageId })
      const found = yield* villages.findRepo(input.repo_id)
      if (Option.isNone(found) || found.value.village_id !== villageId) return yield* Effect.fail(NotFound.of("repo", input.repo_id))
      const severity = input.severity ?? null
      const bug: NewBug = {
        village_id: villageId,
        repo_id: input.repo_id,
        provider: "manual",
        source: "manual",
        issue_id: null,
        issue_number: null,
        title: input.title,
        description: input.description ?? null,
        severity,
        category: input.category ?? null,
        metadata: {},
        sla_seconds: severity === null ? null : (yield* villages.slaPolicy(villageId))[severity]
      }
      return (yield* insert(bug, actorOf(principal)).pipe(withDb)).json
    })

    /**
     * Moves a bug by the transition table, assigning an agent in the same change when asked; its wire
     * JSON. `check` authorizes (callers decide who may).
     */
    const setStatus = <E = never>(
      id: BugId,
      actor: Actor,
      request: ChangeStatus,
      check: (bug: Bug, leaseHeld: boolean) => Effect.Effect<void, E> = () => Effect.void
    ) =>
      Effect.gen(function* () {
        const agent = request.agent_id === undefined ? undefined : yield* agentRef(request.agent_id).pipe(withDb)
        const written = yield* apply(
          id,
          actor,
          (bug, leaseHeld) =>
            check(bug, leaseHeld).pipe(
              Effect.zipRight(checkVersion(bug, request.expected_version)),
              Effect.zipRight(
                planStatus(bug, { status: request.status, reason: request.reason, resolved_in_release: request.resolved_in_release, agent })
              )
            ),
          request.lease_token
        ).pipe(withDb)
        return written.json
      })

    const changeStatus = Effect.fn("Bugs.changeStatus")(function* (principal: Principal, id: BugId, request: ChangeStatus) {
      return yield* setStatus(id, actorOf(principal), request, (bug, leaseHeld) =>
        Effect.gen(function* () {
          yield* authorizeOn(principal, "triage", bug)
          if (principal.type === "agent" && request.agent_id !== undefined && request.agent_id !== principal.id) {
            return yield* Effect.fail(new Forbidden({ message: "an agent cannot assign a bug to another agent" }))
          }
          if (request.lease_token !== undefined && !leaseHeld) return yield* Effect.fail(leaseLost())
        })
      )
    })

    const assign = Effect.fn("Bugs.assign")(function* (principal: Principal, id: BugId, agentId: AgentId | null) {
      const agent = agentId === null ? null : yield* agentRef(agentId).pipe(withDb)
      const written = yield* apply(id, actorOf(principal), (bug) =>
        authorizeOn(principal, principal.type === "agent" ? "manage_village" : "triage", bug).pipe(
          Effect.zipRight(planAssign(bug, agent))
        )
      ).pipe(withDb)
      return written.json
    })

    /** A note; with `leaseToken`, only while that lease is held (checked by the insert itself). */
    const addNote = Effect.fn("Bugs.addNote")(function* (principal: Principal, id: BugId, body: string, leaseToken?: string) {
      const found = yield* repo.findJson(id).pipe(withDb)
      if (Option.isNone(found)) return yield* Effect.fail(NotFound.of("bug", id))
      yield* authorizeOn(principal, "triage", { id, ...found.value })
      if (leaseToken !== undefined && !isIssued(leaseToken)) return yield* Effect.fail(leaseLost())
      const by = yield* author(actorOf(principal))
      const event = yield* repo.appendEvent(id, { kind: "note", from_status: null, to_status: null, note: body, data: {} }, by, leaseToken).pipe(withDb)
      if (Option.isNone(event)) return yield* Effect.fail(leaseLost())
      return event.value
    })

    /** The claimed bug's wire JSON and its lease, or `None` when nothing is claimable (contract §7). */
    const claim = Effect.fn("Bugs.claim")(function* (principal: Principal, request: ClaimRequest) {
      const agent = yield* worker(principal)
      if (request.repo_id !== undefined) {
        const found = yield* villages.findRepo(request.repo_id)
        if (Option.isNone(found) || found.value.village_id !== agent.village_id) return yield* Effect.fail(NotFound.of("repo", request.repo_id))
      }
      const lease = { token: newLeaseToken(), seconds: request.lease_seconds }
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const candidate = yield* repo.claimable({
            agentId: agent.id,
            villageId: agent.village_id,
            repoId: request.repo_id,
            minSeverity: request.min_severity
          })
          if (Option.isNone(candidate)) return Option.none<{ json: string; lease: Lease }>()
          // The candidate is locked by this transaction: the compare-and-set cannot fail.
          const claimed = Option.getOrThrow(
            yield* writeChange(candidate.value, actorOf(agent), (bug) => Effect.succeed(planClaim(bug, agent.id, lease)), undefined)
          )
          return Option.some({ json: claimed.json, lease: new Lease({ token: lease.token, expires_at: Option.getOrThrow(claimed.leaseExpiresAt) }) })
        })
      ).pipe(withDb)
    })

    const heartbeat = Effect.fn("Bugs.heartbeat")(function* (principal: Principal, id: BugId, token: string, seconds: number) {
      yield* getJson(principal, id, "work")
      if (!isIssued(token)) return yield* Effect.fail(leaseLost())
      const expires = yield* repo.extendLease(id, token, seconds).pipe(withDb)
      if (Option.isNone(expires)) return yield* Effect.fail(leaseLost())
      return new LeaseRenewed({ expires_at: expires.value })
    })

    const release = Effect.fn("Bugs.release")(function* (principal: Principal, id: BugId, token: string, reason: string | undefined) {
      const written = yield* apply(
        id,
        actorOf(principal),
        (bug, leaseHeld) =>
          authorizeOn(principal, "work", bug).pipe(
            Effect.zipRight(leaseHeld ? Effect.void : Effect.fail(leaseLost())),
            Effect.as(planRelease(bug, reason ?? null))
          ),
        token
      ).pipe(withDb)
      return written.json
    })

    /** Ends up to `sweepBatch` expired leases; each in a savepoint of its own, so one failure spares the others. */
    const expireLeases = sql.withTransaction(
      Effect.gen(function* () {
        const ids = yield* repo.lockExpiredLeases(sweepBatch)
        yield* Effect.forEach(
          ids,
          (id) =>
            sql.withTransaction(apply(id, systemActor, (bug) => Effect.succeed(planLeaseExpiry(bug)))).pipe(
              Effect.catchAllCause((cause) => Effect.logWarning("could not end an expired lease", cause).pipe(Effect.annotateLogs({ bug_id: id })))
            ),
          { discard: true }
        )
        return ids.length
      })
    )

    /**
     * Brings the bug of an upstream issue in line with it, creating it first when it is new (then
     * the issue's state applies as a change of its own). Runs in the caller's transaction; deliveries
     * of one issue are serialised, so the first creates the bug and the others find it.
     */
    const syncFromUpstream = Effect.fn("Bugs.syncFromUpstream")(function* (upstream: UpstreamBug) {
      yield* sql`select pg_advisory_xact_lock(hashtextextended(${`github-issue:${upstream.issue_id}`}, 0))`
      const policy = yield* villages.slaPolicy(upstream.repo.village_id)
      const existing = yield* repo.findUpstream("github", upstream.repo.id, upstream.issue_id)
      const view = Option.isSome(existing) ? upstream.view : { ...upstream.view, target: upstream.view.target ?? upstream.targetWhenNew }
      const id = Option.isSome(existing)
        ? existing.value
        : (yield* insert(
            {
              village_id: upstream.repo.village_id,
              repo_id: upstream.repo.id,
              provider: "github",
              source: upstream.source,
              issue_id: upstream.issue_id,
              issue_number: upstream.issue_number,
              title: upstream.view.title,
              description: upstream.view.description,
              severity: upstream.view.severity,
              category: null,
              metadata: {
                ...upstream.metadata,
                ...(upstream.view.updated_at === undefined ? {} : { github_updated_at: upstream.view.updated_at })
              },
              sla_seconds: upstream.view.severity === null ? null : policy[upstream.view.severity]
            },
            systemActor
          )).bug.id
      let outcome: UpstreamOutcome = Option.isSome(existing) ? "unchanged" : "created"
      const written = yield* apply(id, systemActor, (bug) =>
        Effect.sync(() => {
          const change = planUpstream(bug, view, policy)
          if (Option.isSome(existing)) outcome = upstreamOutcome(change)
          return change
        })
      )
      return { outcome, json: written.json }
    })

    /** What `syncFromUpstream` would do now, without doing it (a dry run of the reconciler). */
    const previewUpstream = Effect.fn("Bugs.previewUpstream")(function* (upstream: UpstreamBug) {
      const existing = yield* repo.findUpstream("github", upstream.repo.id, upstream.issue_id)
      if (Option.isNone(existing)) return "created" as UpstreamOutcome
      const current = yield* repo.read(existing.value)
      if (Option.isNone(current)) return "created" as UpstreamOutcome
      return upstreamOutcome(planUpstream(current.value.bug, upstream.view, yield* villages.slaPolicy(upstream.repo.village_id)))
    })

    /** `PATCH /bugs/{id}`: triage edits, by those who may change the bug's status; its wire JSON. */
    const edit = Effect.fn("Bugs.edit")(function* (principal: Principal, id: BugId, request: PatchBug) {
      const { expected_version, ...edits } = request
      const written = yield* apply(id, actorOf(principal), (bug) =>
        Effect.gen(function* () {
          yield* authorizeOn(principal, "triage", bug)
          yield* checkVersion(bug, expected_version)
          return planEdit(bug, edits, edits.severity === undefined ? defaultSlaPolicy : yield* villages.slaPolicy(bug.village_id))
        })
      ).pipe(withDb)
      return written.json
    })

    /**
     * A bug created by its first error report (contract §9): `provider` and `source` `report`. In
     * the caller's transaction (the report's).
     */
    const createReported = Effect.fn("Bugs.createReported")(function* (
      repo: { readonly id: RepoId; readonly village_id: VillageId },
      fields: Pick<NewBug, "title" | "description" | "severity" | "category" | "metadata"> & {
        readonly report: NonNullable<NewBug["report"]>
        /** The status it starts in: `open`, or an imported report's `resolved` or `closed`. */
        readonly status?: "open" | "resolved" | "closed"
      }
    ) {
      const { status = "open", ...bug } = fields
      const policy = yield* villages.slaPolicy(repo.village_id)
      return yield* insert(
        {
          village_id: repo.village_id,
          repo_id: repo.id,
          provider: "report",
          source: "report",
          issue_id: null,
          issue_number: null,
          ...bug,
          sla_seconds: bug.severity === null ? null : policy[bug.severity]
        },
        systemActor,
        status
      )
    })

    /**
     * A report of a bug that may reopen it (`planRegression`); whether it did. `releaseIsNewer` is
     * asked only of a bug resolved in a release. In the caller's transaction.
     */
    const regress = <E, R>(
      id: BugId,
      report: { readonly release: string | null; readonly releaseIsNewer: (than: string) => Effect.Effect<boolean, E, R> }
    ) =>
      Effect.gen(function* () {
        let regressed = false
        yield* apply(id, systemActor, (bug) =>
          Effect.gen(function* () {
            if (bug.status !== "resolved") return null
            const newer = bug.resolved_in_release === null ? true : yield* report.releaseIsNewer(bug.resolved_in_release)
            const change = planRegression(bug, { release: report.release, releaseIsNewer: newer })
            regressed = change !== null
            return change
          })
        )
        return regressed
      })

    /**
     * Marks bug `id` a duplicate of `into` (closed, `duplicate_of_id`) by one who may triage both;
     * both bugs as they are after. In the caller's transaction, where the fingerprints move too.
     */
    const markDuplicate = Effect.fn("Bugs.markDuplicate")(function* (principal: Principal, id: BugId, intoId: BugId) {
      if (id === intoId) return yield* Effect.fail(new CannotMerge({ message: "a bug cannot be merged into itself" }))
      const into = yield* load(intoId)
      yield* authorizeOn(principal, "triage", into)
      const written = yield* apply(id, actorOf(principal), (bug) =>
        Effect.gen(function* () {
          yield* authorizeOn(principal, "triage", bug)
          if (bug.village_id !== into.village_id) {
            return yield* Effect.fail(new CannotMerge({ message: "a bug can be merged only into a bug of the same village" }))
          }
          if (into.duplicate_of_id === bug.id) {
            return yield* Effect.fail(new CannotMerge({ message: `${intoId} is itself a duplicate of ${id}` }))
          }
          return planMerge(bug, into)
        })
      )
      return { json: written.json, into }
    })

    /**
     * A fingerprint of bug `id` split out into a new bug (`created` there, `unmerged` here), by one who
     * may triage it. In the caller's transaction, where the fingerprint and its reports move too.
     */
    const splitOut = Effect.fn("Bugs.splitOut")(function* (
      principal: Principal,
      id: BugId,
      fingerprint: string,
      fields: Parameters<typeof createReported>[1]
    ) {
      const bug = yield* load(id)
      yield* authorizeOn(principal, "triage", bug)
      const created = yield* createReported({ id: bug.repo_id, village_id: bug.village_id }, fields)
      yield* apply(id, actorOf(principal), () => Effect.succeed(planUnmerge(fingerprint, created.bug.id)))
      return created
    })

    /** Report counters (contract §9), added in batches: not a lifecycle change (no version, no event). */
    const addCounts = (counted: ReadonlyArray<Counted>) => repo.addCounts(counted)
    const setCounts = (id: BugId, counts: Omit<Counted, "bug_id">) => repo.setCounts(id, counts)

    /** A bug's lifecycle, oldest first, up to `limit` events (no authorization: for a job working on the bug). */
    const history = (id: BugId, limit: number) =>
      repo.events(id, limit, undefined).pipe(withDb, Effect.map((rows) => rows.slice(0, limit).map((row) => row.event)))

    /** Open bugs past their SLA deadline not yet in `noted` (a table of `(bug_id, sla_due_at)`), with the exact deadline. */
    const overdue = (limit: number, noted: string) => repo.overdue(limit, noted).pipe(withDb)

    /** Whether the bug exists in the village (for links to it, like a work-stream event's). */
    const isInVillage = (id: BugId, villageId: VillageId) => repo.isInVillage(id, villageId).pipe(withDb)

    return {
      isInVillage, find: load, history, overdue, get, getJson, list, listJson, events, create, changeStatus, setStatus, assign, addNote, claim, heartbeat, release, syncFromUpstream, previewUpstream,
      edit, createReported, regress, markDuplicate, splitOut, addCounts, setCounts, leasesActive: repo.leasesActive,
      stats: (villageId: VillageId) => repo.stats(villageId).pipe(withDb), titles: (ids: ReadonlyArray<BugId>) => repo.titles(ids).pipe(withDb),
      sweepExpiredLeases: sweeper("bug_bots", sweepBatch, expireLeases)
    } as const
  }),
  dependencies: [BugsRepo.Default, Villages.Default, Agents.Default]
}) {}

/** This instance's sweeper of expired bug leases; safe beside other instances' (SKIP LOCKED). */
export const LeaseSweeperLive = Layer.scopedDiscard(Effect.flatMap(Bugs, (bugs) => bugs.sweepExpiredLeases))
