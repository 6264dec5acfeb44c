import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { client, type Client } from "./lib/Client.js"
import { makeAgent, makeBug, makeVillage } from "./lib/Fixtures.js"
import { startService, type TestService } from "./lib/Service.js"

const statuses = ["open", "triaged", "assigned", "in_progress", "awaiting_verification", "resolved", "closed"] as const
type Status = (typeof statuses)[number]

const allowed: Record<Status, ReadonlyArray<Status>> = {
  open: ["triaged", "assigned", "in_progress", "resolved", "closed"],
  triaged: ["open", "assigned", "in_progress", "resolved", "closed"],
  assigned: ["open", "triaged", "in_progress", "awaiting_verification", "resolved", "closed"],
  in_progress: ["open", "assigned", "awaiting_verification", "resolved", "closed"],
  awaiting_verification: ["open", "in_progress", "resolved", "closed"],
  resolved: ["open", "closed"],
  closed: ["open"]
}

let svc: TestService
let root: Client
let village: Awaited<ReturnType<typeof makeVillage>>
let agent: Awaited<ReturnType<typeof makeAgent>>

beforeAll(async () => {
  svc = await startService()
  root = client(svc.baseUrl, svc.rootToken)
  village = await makeVillage(svc)
  agent = await makeAgent(svc, village.id)
})
afterAll(() => svc.stop())

/** A bug brought to `status` through the API. */
const bugIn = async (status: Status) => {
  const bug = await makeBug(root, village.id, village.repoId)
  const path: Record<Status, ReadonlyArray<Record<string, unknown>>> = {
    open: [],
    triaged: [{ status: "triaged" }],
    assigned: [{ status: "assigned", agent_id: agent.id }],
    in_progress: [{ status: "in_progress", agent_id: agent.id }],
    awaiting_verification: [{ status: "in_progress", agent_id: agent.id }, { status: "awaiting_verification" }],
    resolved: [{ status: "resolved" }],
    closed: [{ status: "closed" }]
  }
  let current = bug
  for (const step of path[status]) {
    const moved = await root.put(`/api/bugs/${bug.id}/status`, step)
    expect(moved.status).toBe(200)
    current = moved.body
  }
  expect(current.status).toBe(status)
  return current
}

describe("the 7×7 transition table", () => {
  for (const from of statuses) {
    for (const to of statuses) {
      const verdict = from === to ? "no-op" : allowed[from].includes(to) ? "allowed" : "refused"
      test(`${from} → ${to}: ${verdict}`, async () => {
        const bug = await bugIn(from)
        const body = to === "assigned" || to === "in_progress" ? { status: to, agent_id: agent.id } : { status: to }
        const reply = await root.put(`/api/bugs/${bug.id}/status`, body)
        const events = await root.get(`/api/bugs/${bug.id}/events?limit=200`)
        if (verdict === "refused") {
          expect(reply.status).toBe(409)
          expect(reply.body.error.code).toBe("INVALID_TRANSITION")
          const after = await root.get(`/api/bugs/${bug.id}`)
          expect(after.body.version).toBe(bug.version)
          return
        }
        expect(reply.status).toBe(200)
        expect(reply.body.status).toBe(to)
        if (verdict === "no-op") {
          expect(reply.body.version).toBe(bug.version)
          return
        }
        expect(reply.body.version).toBe(bug.version + 1)
        const last = events.body.items[events.body.items.length - 1]
        expect(last.kind).toBe("status_changed")
        expect(last.from_status).toBe(from)
        expect(last.to_status).toBe(to)
        if (to === "open") {
          expect(reply.body.assigned_agent_id).toBeNull()
          expect(reply.body.resolved_at).toBeNull()
        }
        if (to === "resolved" || to === "closed") expect(reply.body.resolved_at).not.toBeNull()
      })
    }
  }
})

describe("assignment rules", () => {
  test("assigned/in_progress without an agent is AGENT_REQUIRED", async () => {
    for (const to of ["assigned", "in_progress"]) {
      const bug = await bugIn("open")
      const reply = await root.put(`/api/bugs/${bug.id}/status`, { status: to })
      expect(reply.status).toBe(409)
      expect(reply.body.error.code).toBe("AGENT_REQUIRED")
    }
  })

  test("assigning an open bug moves it to assigned; unassigning moves it back to open", async () => {
    const bug = await bugIn("triaged")
    const assigned = await root.post(`/api/bugs/${bug.id}/assign`, { agent_id: agent.id })
    expect(assigned.status).toBe(200)
    expect(assigned.body.status).toBe("assigned")
    expect(assigned.body.assigned_agent_id).toBe(agent.id)
    const unassigned = await root.post(`/api/bugs/${bug.id}/assign`, { agent_id: null })
    expect(unassigned.status).toBe(200)
    expect(unassigned.body.status).toBe("open")
    expect(unassigned.body.assigned_agent_id).toBeNull()
    // One change, one event: the move is recorded on the event of the change that made it.
    const events = (await root.get(`/api/bugs/${bug.id}/events`)).body.items.map((e: any) => ({
      kind: e.kind, from: e.from_status, to: e.to_status, agent: e.data.agent_id
    }))
    expect(events).toEqual([
      { kind: "created", from: null, to: "open", agent: undefined },
      { kind: "status_changed", from: "open", to: "triaged", agent: undefined },
      { kind: "assigned", from: "triaged", to: "assigned", agent: agent.id },
      { kind: "unassigned", from: "assigned", to: "open", agent: null }
    ])
  })

  test("every change writes exactly one lifecycle event carrying its move", async () => {
    const bug = await bugIn("open")
    const moved = await root.put(`/api/bugs/${bug.id}/status`, { status: "in_progress", agent_id: agent.id, reason: "on it" })
    expect(moved.status).toBe(200)
    const reassigned = await root.post(`/api/bugs/${bug.id}/assign`, { agent_id: (await makeAgent(svc, village.id)).id })
    expect(reassigned.body.status).toBe("in_progress")
    const resolved = await root.put(`/api/bugs/${bug.id}/status`, { status: "resolved" })
    expect(resolved.body.version).toBe(bug.version + 3)
    const events = (await root.get(`/api/bugs/${bug.id}/events`)).body.items
    expect(events.map((e: any) => [e.kind, e.from_status, e.to_status])).toEqual([
      ["created", null, "open"],
      ["status_changed", "open", "in_progress"],
      ["assigned", null, null],
      ["status_changed", "in_progress", "resolved"]
    ])
    expect(events[1]).toMatchObject({ note: "on it", data: { agent_id: agent.id, previous_agent_id: null } })
  })

  test("an agent of another village is AGENT_NOT_IN_VILLAGE; an unknown agent is 404", async () => {
    const other = await makeVillage(svc)
    const stranger = await makeAgent(svc, other.id)
    const bug = await bugIn("open")
    const foreign = await root.post(`/api/bugs/${bug.id}/assign`, { agent_id: stranger.id })
    expect(foreign.status).toBe(400)
    expect(foreign.body.error.code).toBe("AGENT_NOT_IN_VILLAGE")
    const unknown = await root.put(`/api/bugs/${bug.id}/status`, { status: "assigned", agent_id: crypto.randomUUID() })
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.code).toBe("NOT_FOUND")
  })

  test("setting the current status again is a 200 no-op that emits nothing", async () => {
    const bug = await bugIn("triaged")
    const before = await svc.sql`select count(*)::int as n from realtime_events where bug_id = ${bug.id}`
    const again = await root.put(`/api/bugs/${bug.id}/status`, { status: "triaged" })
    expect(again.status).toBe(200)
    expect(again.body.version).toBe(bug.version)
    const after = await svc.sql`select count(*)::int as n from realtime_events where bug_id = ${bug.id}`
    expect(after[0].n).toBe(before[0].n)
  })
})

describe("optimistic locking", () => {
  test("a stale expected_version is VERSION_CONFLICT and changes nothing", async () => {
    const bug = await bugIn("open")
    const first = await root.put(`/api/bugs/${bug.id}/status`, { status: "triaged", expected_version: bug.version })
    expect(first.status).toBe(200)
    expect(first.body.version).toBe(bug.version + 1)
    const stale = await root.put(`/api/bugs/${bug.id}/status`, { status: "resolved", expected_version: bug.version })
    expect(stale.status).toBe(409)
    expect(stale.body.error.code).toBe("VERSION_CONFLICT")
    expect(stale.body.error.details).toEqual({ expected_version: bug.version, current_version: bug.version + 1 })
    expect((await root.get(`/api/bugs/${bug.id}`)).body.status).toBe("triaged")
  })

  test("concurrent writers with the same expected_version: exactly one wins", async () => {
    const bug = await bugIn("open")
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        root.put(`/api/bugs/${bug.id}/status`, { status: i % 2 === 0 ? "triaged" : "closed", expected_version: bug.version })
      )
    )
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1)
    expect(replies.filter((r) => r.status === 409 && r.body.error.code === "VERSION_CONFLICT")).toHaveLength(7)
    expect((await root.get(`/api/bugs/${bug.id}`)).body.version).toBe(bug.version + 1)
  })
})

describe("notes and events", () => {
  test("a note is a lifecycle event with the request's correlation id", async () => {
    const bug = await bugIn("open")
    const note = await root.post(`/api/bugs/${bug.id}/notes`, { body: "looked into it" }, { "x-request-id": "req-note-1" })
    expect(note.status).toBe(201)
    expect(note.headers.get("x-request-id")).toBe("req-note-1")
    expect(note.body).toMatchObject({ bug_id: bug.id, kind: "note", note: "looked into it", actor_type: "user", correlation_id: "req-note-1" })
  })

  test("lifecycle events page oldest first", async () => {
    const bug = await bugIn("open")
    for (let i = 0; i < 5; i++) await root.post(`/api/bugs/${bug.id}/notes`, { body: `note ${i}` })
    const seen: Array<string> = []
    let cursor: string | null = null
    do {
      const page: { body: { items: Array<{ kind: string; note: string | null }>; next_cursor: string | null } } = await root.get(
        `/api/bugs/${bug.id}/events?limit=2${cursor ? `&cursor=${cursor}` : ""}`
      )
      seen.push(...page.body.items.map((e) => e.note ?? e.kind))
      cursor = page.body.next_cursor
    } while (cursor)
    expect(seen).toEqual(["created", "note 0", "note 1", "note 2", "note 3", "note 4"])
  })
})
