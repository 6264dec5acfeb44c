import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Schema } from "effect"
import { authorize, canSee, type Action } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { correlationId } from "../Correlation.js"
import {
  AgentNotInVillage,
  AgentRequired,
  Bug,
  type BugEventKind,
  type BugStatus,
  InvalidTransition,
  isTerminal,
  requiresAgent,
  type Severity,
  transitions,
  VersionConflict
} from "../Domain/Bug.js"
import { Forbidden, NotFound } from "../Domain/Errors.js"
import type { AgentId, BugId, RepoId, VillageId } from "../Domain/Ids.js"
import { CreatedCursor, decodeCursor, RankedCursor, SeqCursor, toPage } from "../Domain/Page.js"
import { Leases } from "../Leases/Leases.js"
import { EventLog } from "../Realtime/EventLog.js"
import { repoRoom, villageRoom } from "../Realtime/Events.js"
import { withDb } from "../Sql/Retry.js"
import { type Actor, type BugFilters, type BugInsert, type BugPatch, BugsRepo, type BugSort, type LifecycleEntry } from "./BugsRepo.js"

export interface Change {
  readonly patch: BugPatch
  readonly events: ReadonlyArray<LifecycleEntry>
}

export interface StatusRequest {
  readonly status: BugStatus
  readonly reason?: string | undefined
  readonly expected_version?: number | undefined
  readonly agent_id?: AgentId | undefined
  readonly lease_token?: string | undefined
}

const table = "bug_bots"

export const actorOf = (principal: Principal): Actor => ({ type: principal.type, id: principal.id })
export const systemActor: Actor = { type: "system", id: null }

const encodeBug = Schema.encodeSync(Bug.json)
/** The realtime payload: the bug without its description (contract §5). */
export const bugPayload = (bug: Bug) => {
  const { description: _, ...rest } = encodeBug(bug)
  return rest
}

/** Contract §4 statuses, transitions, assignment and optimistic locking, for every caller. */
export class Bugs extends Effect.Service<Bugs>()("bugbots/Bugs", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* BugsRepo
    const log = yield* EventLog
    const leases = yield* Leases

    const emit = (bug: Bug, previous: BugStatus | null) =>
      log.append({
        event: previous === null
          ? "bug_bot_spawn"
          : isTerminal(bug.status) && previous !== bug.status
          ? "bug_bot_resolved"
          : "bug_bot_update",
        rooms: [repoRoom(bug.repo_id), villageRoom(bug.village_id)],
        data: bugPayload(bug),
        bugId: bug.id,
        version: bug.version
      })

    const load = (id: BugId) =>
      repo.findById(id).pipe(Effect.flatMap((bug) => (bug ? Effect.succeed(bug) : Effect.fail(NotFound.of("bug", id)))))

    const authorizeOn = (principal: Principal, action: Action, bug: Bug) =>
      authorize(principal, action, {
        villageId: bug.village_id,
        resource: "bug",
        resourceId: bug.id,
        assignedAgentId: bug.assigned_agent_id
      })

    /** An agent that may be assigned to `bug`: it exists (else 404) and lives in the bug's village (else 400). */
    const agentFor = Effect.fn("Bugs.agentFor")(function* (bug: Bug, agentId: AgentId) {
      const agent = yield* repo.findAgent(agentId)
      if (!agent) return yield* Effect.fail(NotFound.of("agent", agentId))
      if (agent.village_id !== bug.village_id) {
        return yield* Effect.fail(new AgentNotInVillage({ message: `agent ${agentId} does not belong to the bug's village` }))
      }
      return agent
    })

    /**
     * The one way a bug changes: lock the row, let `plan` decide (or refuse, or return null for a
     * no-op), then write the row, its lifecycle events and its realtime event in one transaction.
     */
    const mutate = <E, R>(id: BugId, actor: Actor, plan: (bug: Bug) => Effect.Effect<Change | null, E, R>) =>
      sql.withTransaction(
        Effect.gen(function* () {
          const current = yield* repo.lockById(id)
          if (!current) return yield* Effect.fail(NotFound.of("bug", id))
          return yield* mutateLocked(current, actor, plan)
        })
      ).pipe(withDb)

    /**
     * `mutate` for a row the caller has already locked in its open transaction (e.g. picked with
     * `FOR UPDATE SKIP LOCKED`): the same plan, row, lifecycle events and realtime event.
     */
    const mutateLocked = <E, R>(current: Bug, actor: Actor, plan: (bug: Bug) => Effect.Effect<Change | null, E, R>) =>
      Effect.gen(function* () {
        const change = yield* plan(current)
        if (change === null) return current
        const updated = yield* repo.update(current.id, change.patch, { actor, entries: change.events, correlationId: yield* correlationId })
        yield* emit(updated, current.status)
        return updated
      })

    /** Inserts a bug with its `created` event and `bug_bot_spawn`, in one transaction. */
    const insert = (row: BugInsert, actor: Actor, extraEvents: ReadonlyArray<LifecycleEntry> = []) =>
      sql.withTransaction(
        Effect.gen(function* () {
          const bug = yield* repo.insert(row, {
            actor,
            entries: [{ kind: "created", to_status: row.status }, ...extraEvents],
            correlationId: yield* correlationId
          })
          yield* emit(bug, null)
          return bug
        })
      ).pipe(withDb)

    const checkVersion = (bug: Bug, expected: number | undefined) =>
      expected === undefined || expected === bug.version
        ? Effect.void
        : Effect.fail(
            new VersionConflict({
              message: `bug is at version ${bug.version}, not ${expected}`,
              details: { expected_version: expected, current_version: bug.version }
            })
          )

    /**
     * The patch that moves `bug` to `to` (with `agent` as its agent afterwards), by contract §4, and
     * its one lifecycle event: one change, one event, of `kind`, carrying the move and the agent change.
     */
    const statusChange = (
      bug: Bug,
      to: BugStatus,
      agent: AgentId | null,
      reason: string | null,
      kind: BugEventKind = "status_changed"
    ): Change => {
      const entering = bug.status !== to
      const nextAgent = to === "open" ? null : agent
      const patch: BugPatch = {
        status: to,
        ...(to === "open" ? { assigned_agent_id: null, resolved_at: null } : { assigned_agent_id: agent }),
        ...(entering && isTerminal(to) ? { resolved_at: new Date() } : {}),
        ...(to === "open" || isTerminal(to) || agent !== bug.assigned_agent_id ? { lease_token: null, lease_expires_at: null } : {})
      }
      const event: LifecycleEntry = {
        kind,
        from_status: entering ? bug.status : null,
        to_status: entering ? to : null,
        note: reason,
        data: nextAgent !== bug.assigned_agent_id ? { agent_id: nextAgent, previous_agent_id: bug.assigned_agent_id } : {}
      }
      return { patch, events: [event] }
    }

    /** Validates a status move; `null` when it changes nothing. */
    const planStatus = Effect.fn("Bugs.planStatus")(function* (bug: Bug, request: StatusRequest) {
      const agent = request.agent_id ?? bug.assigned_agent_id
      if (request.agent_id !== undefined && request.agent_id !== bug.assigned_agent_id) yield* agentFor(bug, request.agent_id)
      if (request.status === bug.status && agent === bug.assigned_agent_id) return null
      if (request.status !== bug.status && !transitions[bug.status].includes(request.status)) {
        return yield* Effect.fail(
          new InvalidTransition({
            message: `a bug cannot go from ${bug.status} to ${request.status}`,
            details: { from: bug.status, to: request.status }
          })
        )
      }
      if (requiresAgent(request.status) && agent === null) {
        return yield* Effect.fail(new AgentRequired({ message: `moving a bug to ${request.status} needs an assigned agent` }))
      }
      return statusChange(bug, request.status, agent, request.reason ?? null)
    })

    const changeStatus = Effect.fn("Bugs.changeStatus")(function* (principal: Principal, id: BugId, request: StatusRequest) {
      return yield* mutate(id, actorOf(principal), (bug) =>
        Effect.gen(function* () {
          yield* authorizeOn(principal, "triage", bug)
          if (principal.type === "agent" && request.agent_id !== undefined && request.agent_id !== principal.id) {
            return yield* Effect.fail(new Forbidden({ message: "an agent cannot assign a bug to another agent" }))
          }
          yield* checkVersion(bug, request.expected_version)
          if (request.lease_token !== undefined) yield* leases.hold(table, bug.id, request.lease_token)
          return yield* planStatus(bug, request)
        })
      )
    })

    /** Assigning moves an open/triaged bug to `assigned`; unassigning an active bug moves it to `open`. */
    const planAssign = Effect.fn("Bugs.planAssign")(function* (bug: Bug, agentId: AgentId | null): Effect.fn.Return<Change | null, NotFound | AgentNotInVillage | SqlError> {
      if (agentId === bug.assigned_agent_id) return null
      if (agentId === null) {
        return bug.status === "assigned" || bug.status === "in_progress"
          ? statusChange(bug, "open", null, null, "unassigned")
          : {
              patch: { assigned_agent_id: null, lease_token: null, lease_expires_at: null },
              events: [{ kind: "unassigned", data: { agent_id: null, previous_agent_id: bug.assigned_agent_id } }]
            }
      }
      yield* agentFor(bug, agentId)
      const to = bug.status === "open" || bug.status === "triaged" ? "assigned" : bug.status
      return statusChange(bug, to, agentId, null, "assigned")
    })

    const assign = Effect.fn("Bugs.assign")(function* (principal: Principal, id: BugId, agentId: AgentId | null) {
      return yield* mutate(id, actorOf(principal), (bug) =>
        Effect.gen(function* () {
          yield* authorizeOn(principal, principal.type === "agent" ? "manage_village" : "triage", bug)
          return yield* planAssign(bug, agentId)
        })
      )
    })

    const get = Effect.fn("Bugs.get")(function* (principal: Principal, id: BugId) {
      const bug = yield* load(id).pipe(withDb)
      yield* authorizeOn(principal, "read", bug)
      return bug
    })

    const create = Effect.fn("Bugs.create")(function* (
      principal: Principal,
      villageId: VillageId,
      input: { readonly repo_id: RepoId; readonly title: string; readonly description?: string | null | undefined; readonly severity?: Severity | null | undefined; readonly category?: string | null | undefined }
    ) {
      yield* authorize(principal, "triage", { villageId, resource: "village", resourceId: villageId })
      const repoRow = yield* sql<{ id: string }>`select id from repos where id = ${input.repo_id} and village_id = ${villageId}`.pipe(withDb)
      if (repoRow.length === 0) return yield* Effect.fail(NotFound.of("repo", input.repo_id))
      return yield* insert(
        {
          village_id: villageId,
          repo_id: input.repo_id,
          provider: "manual",
          source: "manual",
          issue_id: null,
          issue_number: null,
          title: input.title,
          description: input.description ?? null,
          status: "open",
          severity: input.severity ?? null,
          category: input.category ?? null,
          metadata: {}
        },
        actorOf(principal)
      )
    })

    /** A note; with `leaseToken`, only while that lease is held (checked and written in one transaction). */
    const addNote = Effect.fn("Bugs.addNote")(function* (principal: Principal, id: BugId, body: string, leaseToken?: string) {
      const bug = yield* load(id).pipe(withDb)
      yield* authorizeOn(principal, "triage", bug)
      const append = repo.appendEvents(bug.id, { actor: actorOf(principal), entries: [{ kind: "note", note: body }], correlationId: yield* correlationId })
      const [event] = yield* (leaseToken === undefined
        ? append
        : sql.withTransaction(leases.hold(table, bug.id, leaseToken).pipe(Effect.zipRight(append)))
      ).pipe(withDb)
      return event
    })

    const events = Effect.fn("Bugs.events")(function* (principal: Principal, id: BugId, limit: number, cursor: string | undefined) {
      yield* get(principal, id)
      const after = yield* decodeCursor(cursor, SeqCursor)
      const rows = yield* repo.events(id, limit, after?.[0]).pipe(withDb)
      return toPage(rows, limit, (r) => r.event, (r) => [r.seq])
    })

    const list = Effect.fn("Bugs.list")(function* (
      principal: Principal,
      villageId: VillageId,
      filters: BugFilters,
      sort: BugSort,
      limit: number,
      cursor: string | undefined
    ) {
      if (!canSee(principal, villageId)) return yield* Effect.fail(NotFound.of("village", villageId))
      const exists = yield* sql`select 1 from villages where id = ${villageId}`.pipe(withDb)
      if (exists.length === 0) return yield* Effect.fail(NotFound.of("village", villageId))
      const after = sort === "severity" ? yield* decodeCursor(cursor, RankedCursor) : yield* decodeCursor(cursor, CreatedCursor)
      const rows = yield* repo.list(villageId, filters, sort, limit, after).pipe(withDb)
      return toPage(rows, limit, (r) => r.bug, (r) => r.key)
    })

    return { mutate, mutateLocked, insert, get, create, changeStatus, assign, addNote, events, list, statusChange, planStatus, authorizeOn } as const
  }),
  dependencies: [BugsRepo.Default, EventLog.Default, Leases.Default]
}) {}
