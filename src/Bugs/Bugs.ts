import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option } from "effect"
import { type Action, authorize, canSee } from "../Auth/Policy.js"
import type { AgentPrincipal, Principal } from "../Auth/Principal.js"
import { Agents } from "../Agents/Agents.js"
import { correlationId } from "../Correlation.js"
import { AgentPaused } from "../Domain/Agent.js"
import { Bug, type BugStatus, type ChangeStatus, type CreateBug, isTerminal, type ListBugsParams } from "../Domain/Bug.js"
import {
  type Actor,
  type Change,
  checkVersion,
  created,
  planAssign,
  planClaim,
  planLeaseExpiry,
  planRelease,
  planStatus,
  planUpstream,
  systemActor,
  type UpstreamIssue
} from "../Domain/BugLifecycle.js"
import { Forbidden, NotFound } from "../Domain/Errors.js"
import type { AgentId, BugId, RepoId, VillageId } from "../Domain/Ids.js"
import { Lease } from "../Domain/Lease.js"
import { CreatedCursor, decodeCursor, RankedCursor, SeqCursor, toPage } from "../Domain/Page.js"
import { Claimed, type ClaimRequest, LeaseRenewed } from "../Domain/Work.js"
import { isIssued, leaseLost, newLeaseToken, sweeper } from "../Leases/Leases.js"
import { EventLog } from "../Realtime/EventLog.js"
import { decodeJsonRows } from "../Sql/Json.js"
import { withDb } from "../Sql/Retry.js"
import { Villages } from "../Villages/Villages.js"
import { BugsRepo, type NewBug } from "./BugsRepo.js"

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
const decodeBugs = decodeJsonRows(Bug)

/**
 * Where a bug changes: every command locks the bug, asks a planner of `Domain/BugLifecycle.ts`, and
 * writes the row, its one lifecycle event and its realtime event in one transaction. Manual changes,
 * webhooks, claims, releases and lease expiry all come through here.
 */
export class Bugs extends Effect.Service<Bugs>()("bugbots/Bugs", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* BugsRepo
    const log = yield* EventLog
    const villages = yield* Villages
    const agents = yield* Agents

    const emit = (bug: Bug, previous: BugStatus | null) =>
      log.append({
        event: previous === null
          ? "bug_bot_spawn"
          : isTerminal(bug.status) && previous !== bug.status
          ? "bug_bot_resolved"
          : "bug_bot_update",
        bug
      })

    const author = (actor: Actor) => Effect.map(correlationId, (id) => ({ actor, correlationId: id }))

    const authorizeOn = (principal: Principal, action: Action, bug: Bug) =>
      authorize(principal, action, {
        villageId: bug.village_id,
        resource: "bug",
        resourceId: bug.id,
        assignedAgentId: bug.assigned_agent_id
      })

    /** Applies what `plan` decides for the locked `bug` (nothing when it returns null). Inside a transaction. */
    const applyLocked = <E, R>(bug: Bug, actor: Actor, plan: (bug: Bug) => Effect.Effect<Change | null, E, R>) =>
      Effect.gen(function* () {
        const change = yield* plan(bug)
        if (change === null) return { bug, leaseExpiresAt: Option.none() }
        const updated = yield* repo.update(bug.id, change.patch, change.event, yield* author(actor))
        yield* emit(updated.bug, bug.status)
        return updated
      })

    /** Locks the bug and applies what `plan` decides, in a transaction of its own (or the caller's). */
    const apply = <E, R>(id: BugId, actor: Actor, plan: (bug: Bug) => Effect.Effect<Change | null, E, R>) =>
      sql.withTransaction(
        repo.lock(id).pipe(
          Effect.flatMap(Option.match({ onNone: () => Effect.fail(NotFound.of("bug", id)), onSome: Effect.succeed })),
          Effect.flatMap((bug) => applyLocked(bug, actor, plan)),
          Effect.map((updated) => updated.bug)
        )
      )

    /** Inserts a bug with its `created` event and `bug_bot_spawn`. Inside a transaction. */
    const insert = (bug: NewBug, actor: Actor) =>
      Effect.gen(function* () {
        const inserted = yield* repo.insert(bug, "open", created("open"), yield* author(actor))
        yield* emit(inserted, null)
        return inserted
      })

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
    const getJson = Effect.fn("Bugs.getJson")(function* (principal: Principal, id: BugId) {
      const found = yield* repo.findJson(id).pipe(withDb)
      if (Option.isNone(found)) return yield* Effect.fail(NotFound.of("bug", id))
      const { json, village_id, assigned_agent_id } = found.value
      yield* authorize(principal, "read", { villageId: village_id, resource: "bug", resourceId: id, assignedAgentId: assigned_agent_id })
      return json
    })

    /** A page of the village's bugs, each as its wire JSON. */
    const listRows = Effect.fn("Bugs.listRows")(function* (principal: Principal, villageId: VillageId, params: ListBugsParams) {
      if (!canSee(principal, villageId)) return yield* Effect.fail(NotFound.of("village", villageId))
      yield* villages.find(villageId)
      const { sort, limit, cursor, ...filters } = params
      const after = sort === "severity" ? yield* decodeCursor(cursor, RankedCursor) : yield* decodeCursor(cursor, CreatedCursor)
      const rows = yield* repo.list(villageId, filters, sort, limit, after).pipe(withDb)
      return toPage(rows, limit, (r) => r.json, (r) => r.key)
    })

    const list = (principal: Principal, villageId: VillageId, params: ListBugsParams) =>
      listRows(principal, villageId, params).pipe(
        Effect.flatMap((page) =>
          decodeBugs(page.items.map((json) => ({ json }))).pipe(Effect.map((items) => ({ items, next_cursor: page.next_cursor })))
        )
      )

    /** The page as the wire JSON of `{items, next_cursor}`, assembled from the rows' JSON as it is. */
    const listJson = (principal: Principal, villageId: VillageId, params: ListBugsParams) =>
      listRows(principal, villageId, params).pipe(
        Effect.map((page) => `{"items":[${page.items.join(",")}],"next_cursor":${JSON.stringify(page.next_cursor)}}`)
      )

    const events = Effect.fn("Bugs.events")(function* (principal: Principal, id: BugId, limit: number, cursor: string | undefined) {
      yield* get(principal, id)
      const after = yield* decodeCursor(cursor, SeqCursor)
      const rows = yield* repo.events(id, limit, after?.[0]).pipe(withDb)
      return toPage(rows, limit, (r) => r.event, (r) => [r.seq])
    })

    /** `POST /villages/{id}/bugs`: a manual bug. */
    const create = Effect.fn("Bugs.create")(function* (principal: Principal, villageId: VillageId, input: CreateBug) {
      yield* authorize(principal, "triage", { villageId, resource: "village", resourceId: villageId })
      const found = yield* villages.findRepo(input.repo_id)
      if (Option.isNone(found) || found.value.village_id !== villageId) return yield* Effect.fail(NotFound.of("repo", input.repo_id))
      const bug: NewBug = {
        village_id: villageId,
        repo_id: input.repo_id,
        provider: "manual",
        source: "manual",
        issue_id: null,
        issue_number: null,
        title: input.title,
        description: input.description ?? null,
        severity: input.severity ?? null,
        category: input.category ?? null,
        metadata: {}
      }
      return yield* sql.withTransaction(insert(bug, actorOf(principal))).pipe(withDb)
    })

    /** Moves a bug by the transition table, assigning an agent in the same change when asked. No authorization: callers decide. */
    const setStatus = <E = never>(
      id: BugId,
      actor: Actor,
      request: Omit<ChangeStatus, "lease_token">,
      check: (bug: Bug) => Effect.Effect<void, E> = () => Effect.void
    ) =>
      Effect.gen(function* () {
        const agent = request.agent_id === undefined ? undefined : yield* agentRef(request.agent_id).pipe(withDb)
        return yield* apply(id, actor, (bug) =>
          check(bug).pipe(
            Effect.zipRight(checkVersion(bug, request.expected_version)),
            Effect.zipRight(planStatus(bug, { status: request.status, reason: request.reason, agent }))
          )
        ).pipe(withDb)
      })

    const changeStatus = Effect.fn("Bugs.changeStatus")(function* (principal: Principal, id: BugId, request: ChangeStatus) {
      return yield* setStatus(id, actorOf(principal), request, (bug) =>
        Effect.gen(function* () {
          yield* authorizeOn(principal, "triage", bug)
          if (principal.type === "agent" && request.agent_id !== undefined && request.agent_id !== principal.id) {
            return yield* Effect.fail(new Forbidden({ message: "an agent cannot assign a bug to another agent" }))
          }
          if (request.lease_token !== undefined) yield* holding(bug.id, request.lease_token)
        })
      )
    })

    const assign = Effect.fn("Bugs.assign")(function* (principal: Principal, id: BugId, agentId: AgentId | null) {
      const agent = agentId === null ? null : yield* agentRef(agentId).pipe(withDb)
      return yield* apply(id, actorOf(principal), (bug) =>
        authorizeOn(principal, principal.type === "agent" ? "manage_village" : "triage", bug).pipe(
          Effect.zipRight(planAssign(bug, agent))
        )
      ).pipe(withDb)
    })

    /** A note; with `leaseToken`, only while that lease is held (checked and written in one transaction). */
    const addNote = Effect.fn("Bugs.addNote")(function* (principal: Principal, id: BugId, body: string, leaseToken?: string) {
      const bug = yield* load(id)
      yield* authorizeOn(principal, "triage", bug)
      const append = Effect.flatMap(author(actorOf(principal)), (by) =>
        repo.appendEvent(bug.id, { kind: "note", from_status: null, to_status: null, note: body, data: {} }, by)
      )
      return yield* (leaseToken === undefined ? append : sql.withTransaction(holding(bug.id, leaseToken).pipe(Effect.zipRight(append)))).pipe(
        withDb
      )
    })

    /** Fails with `LEASE_LOST` unless `token` names the bug's live lease (locks the row). */
    const holding = (id: BugId, token: string) =>
      isIssued(token)
        ? repo.holdsLease(id, token).pipe(Effect.flatMap((held) => (held ? Effect.void : Effect.fail(leaseLost()))))
        : Effect.fail(leaseLost())

    /** The claimed bug and its lease, or `None` when nothing is claimable (contract §7). */
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
          if (Option.isNone(candidate)) return Option.none<Claimed>()
          const claimed = yield* applyLocked(candidate.value, actorOf(agent), (bug) => Effect.succeed(planClaim(bug, agent.id, lease)))
          const expiresAt = Option.getOrThrow(claimed.leaseExpiresAt)
          return Option.some(new Claimed({ bug: claimed.bug, lease: new Lease({ token: lease.token, expires_at: expiresAt }) }))
        })
      ).pipe(withDb)
    })

    const heartbeat = Effect.fn("Bugs.heartbeat")(function* (principal: Principal, id: BugId, token: string, seconds: number) {
      const bug = yield* get(principal, id)
      yield* authorizeOn(principal, "work", bug)
      if (!isIssued(token)) return yield* Effect.fail(leaseLost())
      const expires = yield* repo.extendLease(id, token, seconds).pipe(withDb)
      if (Option.isNone(expires)) return yield* Effect.fail(leaseLost())
      return new LeaseRenewed({ expires_at: expires.value })
    })

    const release = Effect.fn("Bugs.release")(function* (principal: Principal, id: BugId, token: string, reason: string | undefined) {
      return yield* apply(id, actorOf(principal), (bug) =>
        authorizeOn(principal, "work", bug).pipe(
          Effect.zipRight(holding(bug.id, token)),
          Effect.as(planRelease(bug, reason ?? null))
        )
      ).pipe(withDb)
    })

    /** Ends up to `sweepBatch` expired leases; each in a savepoint of its own, so one failure spares the others. */
    const expireLeases = sql.withTransaction(
      Effect.gen(function* () {
        const ids = yield* repo.lockExpiredLeases(sweepBatch)
        yield* Effect.forEach(
          ids,
          (id) =>
            apply(id, systemActor, (bug) => Effect.succeed(planLeaseExpiry(bug))).pipe(
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
              }
            },
            systemActor
          )).id
      return yield* apply(id, systemActor, (bug) => Effect.succeed(planUpstream(bug, view)))
    })

    /** Whether the bug exists in the village (for links to it, like a work-stream event's). */
    const isInVillage = (id: BugId, villageId: VillageId) => repo.isInVillage(id, villageId).pipe(withDb)

    return {
      isInVillage, get, getJson, list, listJson, events, create, changeStatus, setStatus, assign, addNote, claim, heartbeat, release, syncFromUpstream,
      sweepExpiredLeases: sweeper("bug_bots", sweepBatch, expireLeases)
    } as const
  }),
  dependencies: [BugsRepo.Default, EventLog.Default, Villages.Default, Agents.Default]
}) {}

/** This instance's sweeper of expired bug leases; safe beside other instances' (SKIP LOCKED). */
export const LeaseSweeperLive = Layer.scopedDiscard(Effect.flatMap(Bugs, (bugs) => bugs.sweepExpiredLeases))
