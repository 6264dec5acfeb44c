import { describe, expect, test } from "bun:test"
import { DateTime, Either } from "effect"
import { Bug, type BugStatus, transitions } from "../src/Domain/Bug.js"
import {
  type AgentRef,
  checkVersion,
  defaultSlaPolicy,
  planAssign,
  planClaim,
  planLeaseExpiry,
  planRelease,
  planStatus,
  planUpstream,
  upstreamOutcome
} from "../src/Domain/BugLifecycle.js"
import { AgentId, BugId, RepoId, VillageId } from "../src/Domain/Ids.js"

/** The pure rules of `Domain/BugLifecycle.ts`, cell by cell: no database, no server. */

const statuses: ReadonlyArray<BugStatus> = ["open", "triaged", "assigned", "in_progress", "awaiting_verification", "resolved", "closed"]
const village = VillageId.make(crypto.randomUUID())
const agent: AgentRef = { id: AgentId.make(crypto.randomUUID()), village_id: village }
const other: AgentRef = { id: AgentId.make(crypto.randomUUID()), village_id: village }
const stranger: AgentRef = { id: AgentId.make(crypto.randomUUID()), village_id: VillageId.make(crypto.randomUUID()) }
const now = DateTime.unsafeNow()

const bug = (status: BugStatus, fields: Partial<Bug> = {}) =>
  new Bug({
    id: BugId.make(crypto.randomUUID()),
    village_id: village,
    repo_id: RepoId.make(crypto.randomUUID()),
    provider: "manual",
    issue_id: null,
    issue_number: null,
    title: "t",
    description: null,
    status,
    severity: null,
    category: null,
    assigned_agent_id: status === "assigned" || status === "in_progress" || status === "awaiting_verification" ? agent.id : null,
    source: "manual",
    metadata: {},
    version: 3,
    created_at: now,
    updated_at: now,
    resolved_at: status === "resolved" || status === "closed" ? now : null,
    occurrences: 0,
    first_seen: null,
    last_seen: null,
    last_release: null,
    environment: null,
    trace_id: null,
    request_id: null,
    release_sha: null,
    sla_due_at: null,
    resolution_notes: null,
    commit_shas: [],
    duplicate_of_id: null,
    resolved_in_release: null,
    ...fields
  })

describe("planStatus: the 7×7 table", () => {
  for (const from of statuses) {
    for (const to of statuses) {
      test(`${from} → ${to}`, () => {
        const current = bug(from)
        const needsAgent = (to === "assigned" || to === "in_progress") && current.assigned_agent_id === null
        const result = planStatus(current, { status: to, ...(needsAgent ? { agent } : {}) })
        if (from === to) return expect(Either.getOrThrow(result)).toBeNull()
        if (!transitions[from].includes(to)) {
          expect(Either.isLeft(result) && result.left._tag).toBe("InvalidTransition")
          return
        }
        const change = Either.getOrThrow(result)!
        expect(change.patch.status).toBe(to)
        expect(change.event).toMatchObject({ kind: "status_changed", from_status: from, to_status: to })
        if (to === "open") expect(change.patch).toMatchObject({ assigned_agent_id: null, resolved_at: null, lease: null })
        if (to === "resolved" || to === "closed") expect(change.patch).toMatchObject({ resolved_at: "now", lease: null })
        if (needsAgent) expect(change.event.data).toEqual({ agent_id: agent.id, previous_agent_id: null })
      })
    }
  }

  test("assigned/in_progress without an agent is AGENT_REQUIRED", () => {
    for (const to of ["assigned", "in_progress"] as const) {
      const result = planStatus(bug("open"), { status: to })
      expect(Either.isLeft(result) && result.left._tag).toBe("AgentRequired")
    }
  })

  test("an agent of another village is AGENT_NOT_IN_VILLAGE", () => {
    const result = planStatus(bug("open"), { status: "assigned", agent: stranger })
    expect(Either.isLeft(result) && result.left._tag).toBe("AgentNotInVillage")
  })

  test("the same status with another agent is a change of agent, not a no-op", () => {
    const change = Either.getOrThrow(planStatus(bug("in_progress"), { status: "in_progress", agent: other }))!
    expect(change.patch).toMatchObject({ assigned_agent_id: other.id, lease: null })
    expect(change.event).toMatchObject({ kind: "status_changed", from_status: null, to_status: null })
  })
})

describe("checkVersion", () => {
  test("passes when absent or equal, refuses otherwise with both versions", () => {
    expect(Either.isRight(checkVersion(bug("open"), undefined))).toBe(true)
    expect(Either.isRight(checkVersion(bug("open"), 3))).toBe(true)
    const stale = checkVersion(bug("open"), 2)
    expect(Either.isLeft(stale) && stale.left.details).toEqual({ expected_version: 2, current_version: 3 })
  })
})

describe("planAssign", () => {
  test("assigning an open or triaged bug moves it to assigned, in one event", () => {
    for (const from of ["open", "triaged"] as const) {
      const change = Either.getOrThrow(planAssign(bug(from), agent))!
      expect(change.patch).toMatchObject({ status: "assigned", assigned_agent_id: agent.id })
      expect(change.event).toMatchObject({ kind: "assigned", from_status: from, to_status: "assigned", data: { agent_id: agent.id } })
    }
  })

  test("reassigning keeps the status and ends the lease", () => {
    const change = Either.getOrThrow(planAssign(bug("in_progress"), other))!
    expect(change.patch).toMatchObject({ status: "in_progress", assigned_agent_id: other.id, lease: null })
    expect(change.event).toMatchObject({ kind: "assigned", from_status: null, to_status: null })
  })

  test("unassigning an active bug moves it to open; an inactive one only loses its agent", () => {
    for (const from of ["assigned", "in_progress"] as const) {
      const change = Either.getOrThrow(planAssign(bug(from), null))!
      expect(change.event).toMatchObject({ kind: "unassigned", from_status: from, to_status: "open" })
    }
    const waiting = Either.getOrThrow(planAssign(bug("awaiting_verification"), null))!
    expect(waiting.patch).toEqual({ assigned_agent_id: null, lease: null })
    expect(waiting.event).toMatchObject({ kind: "unassigned", from_status: null, to_status: null })
  })

  test("the same agent again is a no-op; another village's agent is refused", () => {
    expect(Either.getOrThrow(planAssign(bug("assigned"), agent))).toBeNull()
    expect(Either.getOrThrow(planAssign(bug("open"), null))).toBeNull()
    const refused = planAssign(bug("open"), stranger)
    expect(Either.isLeft(refused) && refused.left._tag).toBe("AgentNotInVillage")
  })
})

describe("claims, releases and expiry", () => {
  const lease = { token: crypto.randomUUID(), seconds: 120 }

  test("a claim makes the bug in_progress under the agent and a new lease", () => {
    for (const from of ["open", "triaged", "assigned"] as const) {
      const change = planClaim(bug(from), agent.id, lease)
      expect(change.patch).toMatchObject({ status: "in_progress", assigned_agent_id: agent.id, lease })
      expect(change.event).toMatchObject({ kind: "claimed", from_status: from, to_status: "in_progress", data: { agent_id: agent.id } })
    }
  })

  test("a release puts the bug back to open, unassigned, its lease ended", () => {
    const change = planRelease(bug("in_progress"), "cannot reproduce")
    expect(change.patch).toMatchObject({ status: "open", assigned_agent_id: null, lease: null })
    expect(change.event).toMatchObject({ kind: "released", from_status: "in_progress", to_status: "open", note: "cannot reproduce" })
  })

  test("an expired lease reopens active work but leaves work awaiting verification where it is", () => {
    expect(planLeaseExpiry(bug("in_progress"))).toMatchObject({
      patch: { status: "open", assigned_agent_id: null, lease: null },
      event: { kind: "lease_expired", from_status: "in_progress", to_status: "open" }
    })
    expect(planLeaseExpiry(bug("awaiting_verification"))).toEqual({
      patch: { lease: null },
      event: { kind: "lease_expired", from_status: null, to_status: null, note: "lease expired", data: { agent_id: agent.id } }
    })
  })
})

describe("planUpstream", () => {
  const view = { title: "t", description: null, severity: null, action: "edited", source: "github" } as const

  test("nothing new is no change", () => {
    expect(planUpstream(bug("open"), view, defaultSlaPolicy)).toBeNull()
  })

  test("edits alone are one edited event naming what changed", () => {
    const change = planUpstream(bug("open"), { ...view, title: "new", severity: "high", updated_at: "2026-01-02T00:00:00Z" }, defaultSlaPolicy)!
    expect(change.patch).toMatchObject({ title: "new", severity: "high", metadata: { github_updated_at: "2026-01-02T00:00:00Z" } })
    expect(change.event).toMatchObject({ kind: "edited", data: { source: "github", changes: { title: { from: "t", to: "new" } } } })
  })

  test("a move carries the edits made with it, in one event", () => {
    const change = planUpstream(bug("in_progress"), { ...view, title: "new", target: "resolved", action: "closed" }, defaultSlaPolicy)!
    expect(change.patch).toMatchObject({ status: "resolved", title: "new", resolved_at: "now" })
    expect(change.event).toMatchObject({ kind: "status_changed", from_status: "in_progress", to_status: "resolved", data: { action: "closed" } })
  })

  test("a move the table does not allow is no move; an older view than the last applied changes nothing", () => {
    expect(planUpstream(bug("closed"), { ...view, target: "resolved" }, defaultSlaPolicy)).toBeNull()
    const applied = bug("open", { metadata: { github_updated_at: "2026-05-01T00:00:00Z" } })
    expect(planUpstream(applied, { ...view, title: "old", updated_at: "2026-04-01T00:00:00Z" }, defaultSlaPolicy)).toBeNull()
  })

  test("reopening upstream clears the agent", () => {
    const change = planUpstream(bug("resolved", { assigned_agent_id: agent.id }), { ...view, target: "open", action: "reopened" }, defaultSlaPolicy)!
    expect(change.patch).toMatchObject({ status: "open", assigned_agent_id: null, resolved_at: null })
  })

  describe("by the issue's state alone (the reconciler)", () => {
    const reconcile = { ...view, action: "reconcile" } as const
    test.each(statuses)("a closed issue on a %s bug", (status) => {
      const change = planUpstream(bug(status), { ...reconcile, state: "closed" }, defaultSlaPolicy)
      if (status === "resolved" || status === "closed") expect(change).toBeNull()
      else expect(change).toMatchObject({ patch: { status: "resolved", metadata: { github_state: "closed" } }, event: { to_status: "resolved" } })
      expect(upstreamOutcome(change)).toBe(status === "resolved" || status === "closed" ? "unchanged" : "resolved")
    })

    test("an open issue reopens only a bug resolved when its issue closed", () => {
      const closedUpstream = bug("resolved", { metadata: { github_state: "closed" } })
      const reopened = planUpstream(closedUpstream, { ...reconcile, state: "open" }, defaultSlaPolicy)
      expect(reopened).toMatchObject({ patch: { status: "open", metadata: { github_state: "open" } } })
      expect(upstreamOutcome(reopened)).toBe("reopened")
      expect(planUpstream(bug("resolved"), { ...reconcile, state: "open" }, defaultSlaPolicy)).toBeNull()
      expect(planUpstream(bug("closed", { metadata: { github_state: "closed" } }), { ...reconcile, state: "open" }, defaultSlaPolicy)).toBeNull()
      expect(upstreamOutcome(planUpstream(bug("open"), { ...reconcile, state: "open", title: "new" }, defaultSlaPolicy))).toBe("updated")
    })
  })
})
