import { Either } from "effect"
import {
  type ActorType,
  AgentNotInVillage,
  AgentRequired,
  type Bug,
  type BugEventKind,
  type BugStatus,
  InvalidTransition,
  isTerminal,
  requiresAgent,
  type Severity,
  transitions,
  VersionConflict
} from "./Bug.js"
import type { AgentId, BugId, VillageId } from "./Ids.js"

/**
 * The rules of a bug's life (contract §4, §6, §7), as pure planners: each takes the bug as it is and
 * what was asked, and returns the change to make — the columns to set and its one lifecycle event —
 * or `null` when nothing changes, or the domain error that refuses it. `Bugs` locks, plans, writes
 * and emits; nothing else decides how a bug changes.
 */

/** Who made a change: a user, an agent, or the service itself (webhooks, sweepers). */
export interface Actor {
  readonly type: ActorType
  readonly id: string | null
}
export const systemActor: Actor = { type: "system", id: null }

/** An agent as the rules need it: which village it works in. */
export interface AgentRef {
  readonly id: AgentId
  readonly village_id: VillageId
}

/** The columns a change sets; `version` and `updated_at` move with every change. */
export interface BugPatch {
  readonly status?: BugStatus
  readonly assigned_agent_id?: AgentId | null
  readonly title?: string
  readonly description?: string | null
  readonly severity?: Severity | null
  readonly category?: string | null
  readonly metadata?: Record<string, unknown>
  /** `now`: the database's clock when the change is written. */
  readonly resolved_at?: "now" | null
  /** A new lease (held by `token` for `seconds` from the write), or `null` to end the current one. */
  readonly lease?: { readonly token: string; readonly seconds: number } | null
  readonly sla_due_at?: Date | null
  readonly resolution_notes?: string | null
  readonly commit_shas?: ReadonlyArray<string>
  readonly duplicate_of_id?: BugId | null
  readonly resolved_in_release?: string | null
}

/** Seconds from creation to the SLA deadline, by severity (a village's policy, contract §9). */
export type SlaPolicy = Readonly<Record<Severity, number>>
export const defaultSlaPolicy: SlaPolicy = { critical: 4 * 3600, high: 24 * 3600, medium: 72 * 3600, low: 7 * 24 * 3600 }

/** When a bug created at `createdAt` with `severity` is due under `policy`; none without a severity. */
export const slaDueAt = (createdAt: Date, severity: Severity | null, policy: SlaPolicy): Date | null =>
  severity === null ? null : new Date(createdAt.getTime() + policy[severity] * 1000)

export interface LifecycleEntry {
  readonly kind: BugEventKind
  readonly from_status: BugStatus | null
  readonly to_status: BugStatus | null
  readonly note: string | null
  readonly data: Record<string, unknown>
}

/** One change, one lifecycle event. */
export interface Change {
  readonly patch: BugPatch
  readonly event: LifecycleEntry
}

const entry = (kind: BugEventKind, fields: Partial<Omit<LifecycleEntry, "kind">> = {}): LifecycleEntry => ({
  kind,
  from_status: fields.from_status ?? null,
  to_status: fields.to_status ?? null,
  note: fields.note ?? null,
  data: fields.data ?? {}
})

/** The first event of every bug. */
export const created = (status: BugStatus, data: Record<string, unknown> = {}) => entry("created", { to_status: status, data })

/**
 * Moves `bug` to `to` with `agent` as its agent afterwards. Entering `open` clears the agent, the
 * lease and `resolved_at`; entering `resolved`/`closed` sets `resolved_at` and ends the lease; a
 * change of agent ends the lease. The event of `kind` records the move and the agent change.
 */
export const move = (
  bug: Bug,
  to: BugStatus,
  agent: AgentId | null,
  note: string | null,
  kind: BugEventKind = "status_changed",
  data: Record<string, unknown> = {}
): Change => {
  const entering = bug.status !== to
  const nextAgent = to === "open" ? null : agent
  const patch: BugPatch = {
    status: to,
    assigned_agent_id: nextAgent,
    ...(to === "open" ? { resolved_at: null } : entering && isTerminal(to) ? { resolved_at: "now" as const } : {}),
    ...(to === "open" || isTerminal(to) || nextAgent !== bug.assigned_agent_id ? { lease: null } : {}),
    ...(entering ? { resolved_in_release: null } : {})
  }
  const agentData = nextAgent !== bug.assigned_agent_id ? { agent_id: nextAgent, previous_agent_id: bug.assigned_agent_id } : {}
  return {
    patch,
    event: entry(kind, {
      from_status: entering ? bug.status : null,
      to_status: entering ? to : null,
      note,
      data: { ...agentData, ...data }
    })
  }
}

const agentInVillage = (bug: Bug, agent: AgentRef) =>
  agent.village_id === bug.village_id
    ? Either.right(agent.id)
    : Either.left(new AgentNotInVillage({ message: `agent ${agent.id} does not belong to the bug's village` }))

/** `expected_version` must be the bug's version, when given. */
export const checkVersion = (bug: Bug, expected: number | undefined): Either.Either<void, VersionConflict> =>
  expected === undefined || expected === bug.version
    ? Either.void
    : Either.left(
        new VersionConflict({
          message: `bug is at version ${bug.version}, not ${expected}`,
          details: { expected_version: expected, current_version: bug.version }
        })
      )

export interface StatusRequest {
  readonly status: BugStatus
  readonly reason?: string | undefined
  /** With `resolved`: only reports of a release first seen after this one reopen the bug. */
  readonly resolved_in_release?: string | undefined
  /** The agent to assign in the same change, when given. */
  readonly agent?: AgentRef | undefined
}

/** `PUT /bugs/{id}/status` by the transition table; assigning in the same change when an agent is given. */
export const planStatus = (
  bug: Bug,
  request: StatusRequest
): Either.Either<Change | null, InvalidTransition | AgentRequired | AgentNotInVillage> =>
  Either.gen(function* () {
    const agent = request.agent === undefined ? bug.assigned_agent_id : yield* agentInVillage(bug, request.agent)
    if (request.status === bug.status && agent === bug.assigned_agent_id) return null
    if (request.status !== bug.status && !transitions[bug.status].includes(request.status)) {
      return yield* Either.left(
        new InvalidTransition({
          message: `a bug cannot go from ${bug.status} to ${request.status}`,
          details: { from: bug.status, to: request.status }
        })
      )
    }
    if (requiresAgent(request.status) && agent === null) {
      return yield* Either.left(new AgentRequired({ message: `moving a bug to ${request.status} needs an assigned agent` }))
    }
    const moved = move(bug, request.status, agent, request.reason ?? null)
    if (request.status !== "resolved" || request.resolved_in_release === undefined) return moved
    return {
      patch: { ...moved.patch, resolved_in_release: request.resolved_in_release },
      event: { ...moved.event, data: { ...moved.event.data, resolved_in_release: request.resolved_in_release } }
    }
  })

/** Assigning moves an open/triaged bug to `assigned`; unassigning an active bug moves it to `open`. */
export const planAssign = (bug: Bug, agent: AgentRef | null): Either.Either<Change | null, AgentNotInVillage> =>
  Either.gen(function* () {
    if ((agent?.id ?? null) === bug.assigned_agent_id) return null
    if (agent === null) {
      return bug.status === "assigned" || bug.status === "in_progress"
        ? move(bug, "open", null, null, "unassigned")
        : {
            patch: { assigned_agent_id: null, lease: null },
            event: entry("unassigned", { data: { agent_id: null, previous_agent_id: bug.assigned_agent_id } })
          }
    }
    const id = yield* agentInVillage(bug, agent)
    const to = bug.status === "open" || bug.status === "triaged" ? "assigned" : bug.status
    return move(bug, to, id, null, "assigned")
  })

/** A claim: the bug becomes `in_progress`, assigned to the agent, under a new lease. */
export const planClaim = (bug: Bug, agent: AgentId, lease: { readonly token: string; readonly seconds: number }): Change => {
  const moved = move(bug, "in_progress", agent, null, "claimed", { agent_id: agent, lease_seconds: lease.seconds })
  return { patch: { ...moved.patch, lease }, event: { ...moved.event, from_status: bug.status, to_status: "in_progress" } }
}

/** The agent gives the bug back: `open`, unassigned, its lease ended. */
export const planRelease = (bug: Bug, reason: string | null): Change => {
  const moved = move(bug, "open", null, reason, "released", { agent_id: bug.assigned_agent_id })
  return { patch: moved.patch, event: { ...moved.event, from_status: bug.status, to_status: "open" } }
}

/**
 * A lease ran out. Active work goes back to `open`; a bug moved on to `awaiting_verification`
 * keeps its status (its work is done), only the lease ends.
 */
export const planLeaseExpiry = (bug: Bug): Change => {
  if (bug.status === "assigned" || bug.status === "in_progress") {
    const moved = move(bug, "open", null, "lease expired", "lease_expired", { agent_id: bug.assigned_agent_id })
    return { patch: moved.patch, event: { ...moved.event, from_status: bug.status, to_status: "open" } }
  }
  return { patch: { lease: null }, event: entry("lease_expired", { note: "lease expired", data: { agent_id: bug.assigned_agent_id } }) }
}

/** An issue as the upstream tracker (GitHub) shows it now. */
export interface UpstreamIssue {
  readonly title: string
  readonly description: string | null
  readonly severity: Severity | null
  /** When the tracker last changed it: an older view than the last one applied changes nothing. */
  readonly updated_at?: string | undefined
  /** Where the issue's state puts the bug (`resolved` for a closed issue), if anywhere. */
  readonly target?: BugStatus | undefined
  /** What happened upstream, for the event (`closed`, `edited`, `reconcile`, ...). */
  readonly action: string
  readonly source: string
  /** The issue's state upstream; without a `target`, a change of it moves the bug (see `stateTarget`). */
  readonly state?: "open" | "closed" | undefined
}

/**
 * Where the issue's state puts the bug when no event names a move (the reconciler reads states, not
 * events): a closed issue resolves a bug not yet ended; an issue open again reopens a bug that was
 * resolved when its issue closed. A bug resolved in bugbots whose issue is still open stays resolved:
 * the issue was never closed, so nothing upstream reopened it.
 */
const stateTarget = (bug: Bug, state: "open" | "closed" | undefined): BugStatus | undefined => {
  if (state === "closed") return isTerminal(bug.status) ? undefined : "resolved"
  if (state === "open" && bug.status === "resolved" && bug.metadata.github_state === "closed") return "open"
  return undefined
}

/** What following the upstream issue did to a bug, as the reconciler counts it. */
export type UpstreamOutcome = "created" | "updated" | "resolved" | "reopened" | "unchanged"

export const upstreamOutcome = (change: Change | null): UpstreamOutcome =>
  change === null ? "unchanged" : change.patch.status === "resolved" ? "resolved" : change.patch.status === "open" ? "reopened" : "updated"

/**
 * Follows the upstream issue: title, description and severity as it shows them, and its state's
 * status when the transition table allows it (a move it does not allow, like `closed` → `resolved`,
 * is no move). One event: the move, carrying the edits made with it, or `edited`.
 */
export const planUpstream = (bug: Bug, issue: UpstreamIssue, policy: SlaPolicy): Change | null => {
  const applied = bug.metadata.github_updated_at
  if (issue.updated_at !== undefined && typeof applied === "string" && issue.updated_at < applied) return null
  const edits: Record<string, unknown> = {}
  if (issue.title !== bug.title) edits.title = { from: bug.title, to: issue.title }
  if (issue.description !== bug.description) edits.description = { changed: true }
  if (issue.severity !== bug.severity) edits.severity = { from: bug.severity, to: issue.severity }
  const target = issue.target ?? stateTarget(bug, issue.state)
  const moves = target !== undefined && target !== bug.status && transitions[bug.status].includes(target)
  const edited = Object.keys(edits).length > 0
  if (!edited && !moves) return null
  const data = { source: issue.source, action: issue.action, ...(edited ? { changes: edits } : {}) }
  const metadata = {
    ...bug.metadata,
    ...(issue.updated_at === undefined ? {} : { github_updated_at: issue.updated_at }),
    ...(issue.state === undefined ? {} : { github_state: issue.state })
  }
  const fields = edited
    ? {
        title: issue.title,
        description: issue.description,
        severity: issue.severity,
        ...(issue.severity !== bug.severity ? { sla_due_at: slaDueAt(new Date(bug.created_at.epochMillis), issue.severity, policy) } : {})
      }
    : {}
  if (!moves) return { patch: { ...fields, metadata }, event: entry("edited", { data }) }
  const moved = move(bug, target, target === "open" ? null : bug.assigned_agent_id, `upstream issue ${issue.action}`, "status_changed", data)
  return { patch: { ...fields, ...moved.patch, metadata }, event: moved.event }
}

/** What `PATCH /bugs/{id}` may change (contract §9). */
export interface Edits {
  readonly title?: string | undefined
  readonly description?: string | null | undefined
  readonly severity?: Severity | null | undefined
  readonly category?: string | null | undefined
  readonly resolution_notes?: string | null | undefined
  readonly commit_shas?: ReadonlyArray<string> | undefined
}

const sameList = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && a.every((x, i) => x === b[i])

/** Edits of the bug's fields; a new severity moves the SLA deadline by `policy`. One `edited` event naming what changed. */
export const planEdit = (bug: Bug, edits: Edits, policy: SlaPolicy): Change | null => {
  const changes: Record<string, unknown> = {}
  const patch: { -readonly [K in keyof BugPatch]: BugPatch[K] } = {}
  if (edits.title !== undefined && edits.title !== bug.title) {
    changes.title = { from: bug.title, to: edits.title }
    patch.title = edits.title
  }
  if (edits.description !== undefined && edits.description !== bug.description) {
    changes.description = { changed: true }
    patch.description = edits.description
  }
  if (edits.category !== undefined && edits.category !== bug.category) {
    changes.category = { from: bug.category, to: edits.category }
    patch.category = edits.category
  }
  if (edits.resolution_notes !== undefined && edits.resolution_notes !== bug.resolution_notes) {
    changes.resolution_notes = { changed: true }
    patch.resolution_notes = edits.resolution_notes
  }
  if (edits.commit_shas !== undefined && !sameList(edits.commit_shas, bug.commit_shas)) {
    changes.commit_shas = { from: bug.commit_shas, to: edits.commit_shas }
    patch.commit_shas = edits.commit_shas
  }
  if (edits.severity !== undefined && edits.severity !== bug.severity) {
    changes.severity = { from: bug.severity, to: edits.severity }
    patch.severity = edits.severity
    patch.sla_due_at = slaDueAt(new Date(bug.created_at.epochMillis), edits.severity, policy)
  }
  if (Object.keys(changes).length === 0) return null
  return { patch, event: entry("edited", { data: { changes } }) }
}

/**
 * An error report on a bug (contract §9): a `resolved` bug reopens (`regressed`) unless it was
 * resolved in a release and the report's release was not first seen after that one; any other
 * status, `closed` included, stays as it is.
 */
export const planRegression = (
  bug: Bug,
  report: { readonly release: string | null; readonly releaseIsNewer: boolean }
): Change | null => {
  if (bug.status !== "resolved") return null
  if (bug.resolved_in_release !== null && !report.releaseIsNewer) return null
  const data = { release: report.release, resolved_in_release: bug.resolved_in_release }
  const moved = move(bug, "open", null, "a new report of a resolved bug", "regressed", data)
  return { patch: moved.patch, event: { ...moved.event, from_status: "resolved", to_status: "open" } }
}

/** This bug duplicates `into`: it is closed as its duplicate (its reports then land on `into`). */
export const planMerge = (bug: Bug, into: Bug): Change => {
  const moved = move(bug, "closed", bug.assigned_agent_id, `duplicate of ${into.id}`, "merged", { into: into.id })
  return {
    patch: { ...moved.patch, duplicate_of_id: into.id },
    event: { ...moved.event, from_status: bug.status === "closed" ? null : bug.status, to_status: bug.status === "closed" ? null : "closed" }
  }
}

/** A fingerprint of this bug was split out into a bug of its own. */
export const planUnmerge = (fingerprint: string, newBugId: BugId): Change => ({
  patch: {},
  event: entry("unmerged", { data: { fingerprint, bug_id: newBugId } })
})
