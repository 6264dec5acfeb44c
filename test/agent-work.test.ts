import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { client } from "./lib/Client.js"
import { makeAgent, makeBug, makeUser, makeVillage } from "./lib/Fixtures.js"
import { startService, type TestService } from "./lib/Service.js"

let svc: TestService
beforeAll(async () => {
  svc = await startService()
})
afterAll(() => svc.stop())

const lifecycle = async (bugId: string) => {
  const events = await client(svc.baseUrl, svc.rootToken).get(`/api/bugs/${bugId}/events?limit=200`)
  expect(events.status).toBe(200)
  return events.body.items as Array<{ kind: string; from_status: string | null; to_status: string | null; actor_type: string }>
}

const waitFor = async <T>(probe: () => Promise<T | undefined>, ms: number) => {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`)
    await Bun.sleep(100)
  }
}

describe("claim", () => {
  test("ten agents claiming at once never share a bug; the surplus gets 204", async () => {
    const v = await makeVillage(svc)
    const bugs = await Promise.all(Array.from({ length: 6 }, () => makeBug(v.root, v.id, v.repoId)))
    const agents = await Promise.all(Array.from({ length: 10 }, () => makeAgent(svc, v.id)))
    const replies = await Promise.all(agents.map((a) => a.api.post("/api/agents/claim", {})))
    const claimed = replies.filter((r) => r.status === 200)
    expect(claimed.length).toBe(6)
    expect(replies.filter((r) => r.status === 204).length).toBe(4)
    const ids = claimed.map((r) => r.body.bug.id)
    expect(new Set(ids).size).toBe(6)
    expect(new Set(ids)).toEqual(new Set(bugs.map((b) => b.id)))
    for (const r of claimed) {
      expect(r.body.bug.status).toBe("in_progress")
      expect(r.body.lease.token).toMatch(/^[0-9a-f-]{36}$/)
      expect(Date.parse(r.body.lease.expires_at)).toBeGreaterThan(Date.now() + 250_000)
    }
    const owners = claimed.map((r) => r.body.bug.assigned_agent_id)
    expect(new Set(owners).size).toBe(6)
  })

  test("agents claiming in a loop over many bugs take each bug exactly once", async () => {
    const v = await makeVillage(svc)
    const made = await Promise.all(Array.from({ length: 40 }, (_, i) => makeBug(v.root, v.id, v.repoId, { severity: ["critical", "high", "medium", "low"][i % 4] })))
    const agents = await Promise.all(Array.from({ length: 8 }, () => makeAgent(svc, v.id)))
    const taken: Array<string> = []
    await Promise.all(
      agents.map(async (agent) => {
        for (;;) {
          const r = await agent.api.post("/api/agents/claim", {})
          if (r.status === 204) return
          expect(r.status).toBe(200)
          taken.push(r.body.bug.id)
          expect((await agent.api.put(`/api/bugs/${r.body.bug.id}/status`, { status: "resolved" })).status).toBe(200)
        }
      })
    )
    expect(taken.length).toBe(made.length)
    expect(new Set(taken)).toEqual(new Set(made.map((b) => b.id)))
  })

  test("most severe first, then oldest", async () => {
    const v = await makeVillage(svc)
    const order = [null, "low", "critical", "medium", "high", "critical"]
    const made = []
    for (const severity of order) made.push(await makeBug(v.root, v.id, v.repoId, { severity }))
    const agent = await makeAgent(svc, v.id)
    const got: Array<string | null> = []
    const ids: Array<string> = []
    for (let i = 0; i < order.length; i++) {
      const r = await agent.api.post("/api/agents/claim", {})
      expect(r.status).toBe(200)
      got.push(r.body.bug.severity)
      ids.push(r.body.bug.id)
    }
    expect(got).toEqual(["critical", "critical", "high", "medium", "low", null])
    expect(ids[0]).toBe(made[2].id)
    expect(ids[1]).toBe(made[5].id)
    expect((await agent.api.post("/api/agents/claim", {})).status).toBe(204)
  })

  test("repo_id and min_severity narrow the claim", async () => {
    const v = await makeVillage(svc)
    const other = await v.root.post(`/api/villages/${v.id}/repos`, { full_name: `org/other-${Date.now()}` })
    expect(other.status).toBe(201)
    const inOther = await makeBug(v.root, v.id, other.body.id, { severity: "low" })
    const critical = await makeBug(v.root, v.id, v.repoId, { severity: "critical" })
    const medium = await makeBug(v.root, v.id, v.repoId, { severity: "medium" })
    const agent = await makeAgent(svc, v.id)

    const byRepo = await agent.api.post("/api/agents/claim", { repo_id: other.body.id })
    expect(byRepo.status).toBe(200)
    expect(byRepo.body.bug.id).toBe(inOther.id)
    expect((await agent.api.post("/api/agents/claim", { repo_id: other.body.id })).status).toBe(204)

    const high = await agent.api.post("/api/agents/claim", { min_severity: "high" })
    expect(high.body.bug.id).toBe(critical.id)
    expect((await agent.api.post("/api/agents/claim", { min_severity: "high" })).status).toBe(204)
    const rest = await agent.api.post("/api/agents/claim", { min_severity: "medium" })
    expect(rest.body.bug.id).toBe(medium.id)

    const unknownRepo = await agent.api.post("/api/agents/claim", { repo_id: crypto.randomUUID() })
    expect(unknownRepo.status).toBe(404)
    expect(unknownRepo.body.error.code).toBe("NOT_FOUND")
  })

  test("only the village's bugs; a bug assigned to this agent is claimable, one assigned to another is not", async () => {
    const v = await makeVillage(svc)
    const elsewhere = await makeVillage(svc)
    await makeBug(elsewhere.root, elsewhere.id, elsewhere.repoId, { severity: "critical" })
    const me = await makeAgent(svc, v.id)
    const other = await makeAgent(svc, v.id)
    const mine = await makeBug(v.root, v.id, v.repoId, { severity: "low" })
    const theirs = await makeBug(v.root, v.id, v.repoId, { severity: "critical" })
    expect((await v.root.post(`/api/bugs/${mine.id}/assign`, { agent_id: me.id })).body.status).toBe("assigned")
    expect((await v.root.post(`/api/bugs/${theirs.id}/assign`, { agent_id: other.id })).body.status).toBe("assigned")
    const open = await makeBug(v.root, v.id, v.repoId, { severity: "medium" })

    const first = await me.api.post("/api/agents/claim", {})
    expect(first.body.bug.id).toBe(open.id)
    const second = await me.api.post("/api/agents/claim", {})
    expect(second.body.bug.id).toBe(mine.id)
    expect(second.body.bug.status).toBe("in_progress")
    expect((await me.api.post("/api/agents/claim", {})).status).toBe(204)
  })

  test("a claim is in the lifecycle and broadcast", async () => {
    const v = await makeVillage(svc)
    const bug = await makeBug(v.root, v.id, v.repoId)
    const agent = await makeAgent(svc, v.id)
    const claimed = await agent.api.post("/api/agents/claim", {}, { "x-request-id": "claim-broadcast-1" })
    expect(claimed.status).toBe(200)
    expect(claimed.body.bug.version).toBe(2)
    const events = await lifecycle(bug.id)
    const claim = events.find((e) => e.kind === "claimed")!
    expect(claim).toMatchObject({ from_status: "open", to_status: "in_progress", actor_type: "agent" })
    const rows = await svc.sql`select event, rooms, correlation_id from realtime_events where bug_id = ${bug.id} order by id`
    expect(rows.at(-1)).toMatchObject({ event: "bug_bot_update", correlation_id: "claim-broadcast-1" })
    expect(rows.at(-1).rooms).toEqual([`repo:${v.repoId}`, `village:${v.id}`])
  })

  test("users may not claim; a paused agent gets AGENT_PAUSED; the lease length is bounded", async () => {
    const v = await makeVillage(svc)
    await makeBug(v.root, v.id, v.repoId)
    const admin = await makeUser(svc, { village: v.id, role: "admin" })
    const asUser = await admin.api.post("/api/agents/claim", {})
    expect(asUser.status).toBe(403)
    expect(asUser.body.error.code).toBe("FORBIDDEN")

    const agent = await makeAgent(svc, v.id)
    for (const lease_seconds of [29, 3601, 1.5]) {
      const bad = await agent.api.post("/api/agents/claim", { lease_seconds })
      expect(bad.status).toBe(400)
      expect(bad.body.error.code).toBe("VALIDATION_FAILED")
      expect(typeof bad.body.error.request_id).toBe("string")
    }

    expect((await v.root.put(`/api/agents/${agent.id}/state`, { state: "paused" })).status).toBe(200)
    const paused = await agent.api.post("/api/agents/claim", {})
    expect(paused.status).toBe(409)
    expect(paused.body.error.code).toBe("AGENT_PAUSED")
    expect((await v.root.put(`/api/agents/${agent.id}/state`, { state: "active" })).status).toBe(200)
    const resumed = await agent.api.post("/api/agents/claim", { lease_seconds: 30 })
    expect(resumed.status).toBe(200)
    const ms = Date.parse(resumed.body.lease.expires_at) - Date.now()
    expect(ms).toBeGreaterThan(25_000)
    expect(ms).toBeLessThan(35_000)
  })
})

describe("lease", () => {
  const claimOne = async () => {
    const v = await makeVillage(svc)
    const bug = await makeBug(v.root, v.id, v.repoId)
    const agent = await makeAgent(svc, v.id)
    const claimed = await agent.api.post("/api/agents/claim", { lease_seconds: 30 })
    expect(claimed.status).toBe(200)
    return { v, bug, agent, token: claimed.body.lease.token as string, expiresAt: claimed.body.lease.expires_at as string }
  }

  test("a heartbeat extends the lease; a wrong token is LEASE_LOST", async () => {
    const { bug, agent, token, expiresAt } = await claimOne()
    const beat = await agent.api.post(`/api/bugs/${bug.id}/heartbeat`, { lease_token: token, lease_seconds: 600 })
    expect(beat.status).toBe(200)
    expect(Date.parse(beat.body.expires_at)).toBeGreaterThan(Date.parse(expiresAt) + 500_000)
    const wrong = await agent.api.post(`/api/bugs/${bug.id}/heartbeat`, { lease_token: crypto.randomUUID() })
    expect(wrong.status).toBe(409)
    expect(wrong.body.error.code).toBe("LEASE_LOST")
    // Lease tokens are opaque: a token of any shape that is not the lease's is LEASE_LOST, never 400.
    for (const token of ["nope", "", "x".repeat(200), "12345678-1234-1234-1234-1234567890123"].filter((t) => t.length > 0)) {
      const other = await agent.api.post(`/api/bugs/${bug.id}/heartbeat`, { lease_token: token })
      expect(other.status).toBe(409)
      expect(other.body.error.code).toBe("LEASE_LOST")
      for (const [method, path, body] of [
        ["post", `/api/bugs/${bug.id}/release`, { lease_token: token }],
        ["put", `/api/bugs/${bug.id}/status`, { status: "awaiting_verification", lease_token: token }],
        ["post", `/api/bugs/${bug.id}/notes`, { body: "progress", lease_token: token }]
      ] as const) {
        const reply = await agent.api[method](path, body)
        expect(reply.status).toBe(409)
        expect(reply.body.error.code).toBe("LEASE_LOST")
      }
    }
    expect((await agent.api.post(`/api/bugs/${bug.id}/notes`, { body: "with my lease", lease_token: token })).status).toBe(201)
    expect((await agent.api.get(`/api/bugs/${bug.id}`)).body.status).toBe("in_progress")
    const missing = await agent.api.post(`/api/bugs/${crypto.randomUUID()}/heartbeat`, { lease_token: token })
    expect(missing.status).toBe(404)
  })

  test("release puts the bug back to open, unassigned; the lease is then lost", async () => {
    const { bug, agent, token } = await claimOne()
    const released = await agent.api.post(`/api/bugs/${bug.id}/release`, { lease_token: token, reason: "cannot reproduce" })
    expect(released.status).toBe(200)
    expect(released.body).toMatchObject({ id: bug.id, status: "open", assigned_agent_id: null })
    const events = await lifecycle(bug.id)
    expect(events.at(-1)).toMatchObject({ kind: "released", from_status: "in_progress", to_status: "open", actor_type: "agent" })
    const again = await agent.api.post(`/api/bugs/${bug.id}/release`, { lease_token: token })
    expect(again.status).toBe(409)
    expect(again.body.error.code).toBe("LEASE_LOST")
    expect((await agent.api.post(`/api/bugs/${bug.id}/heartbeat`, { lease_token: token })).body.error.code).toBe("LEASE_LOST")
    expect((await agent.api.post("/api/agents/claim", {})).body.bug.id).toBe(bug.id)
  })

  test("another agent cannot heartbeat or release with a stolen guess; users get 403", async () => {
    const { v, bug, token } = await claimOne()
    const other = await makeAgent(svc, v.id)
    expect((await other.api.post(`/api/bugs/${bug.id}/heartbeat`, { lease_token: crypto.randomUUID() })).status).toBe(409)
    const admin = await makeUser(svc, { village: v.id, role: "admin" })
    expect((await admin.api.post(`/api/bugs/${bug.id}/release`, { lease_token: token })).status).toBe(403)
    const outsider = await makeUser(svc)
    expect((await outsider.api.post(`/api/bugs/${bug.id}/release`, { lease_token: token })).status).toBe(404)
  })

  test("an expired lease puts the bug back to open within 5 s, with a lifecycle and a realtime event", async () => {
    const { v, bug, agent, token } = await claimOne()
    await svc.sql`update bug_bots set lease_expires_at = now() - interval '1 second' where id = ${bug.id}`
    const started = Date.now()
    const reopened = await waitFor(async () => {
      const r = await v.root.get(`/api/bugs/${bug.id}`)
      return r.body.status === "open" ? r.body : undefined
    }, 5000)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(reopened.assigned_agent_id).toBeNull()
    const events = await lifecycle(bug.id)
    expect(events.at(-1)).toMatchObject({ kind: "lease_expired", from_status: "in_progress", to_status: "open", actor_type: "system" })
    const [rt] = await svc.sql`select event, version from realtime_events where bug_id = ${bug.id} order by id desc limit 1`
    expect(rt).toMatchObject({ event: "bug_bot_update", version: reopened.version })
    const late = await agent.api.post(`/api/bugs/${bug.id}/heartbeat`, { lease_token: token })
    expect(late.status).toBe(409)
    expect(late.body.error.code).toBe("LEASE_LOST")
  })

  test("two instances sweeping the same database end each expired lease once", async () => {
    const second = await startService({ databaseUrl: svc.databaseUrl })
    try {
      const v = await makeVillage(svc)
      const agent = await makeAgent(svc, v.id)
      const ids: Array<string> = []
      for (let i = 0; i < 12; i++) {
        await makeBug(v.root, v.id, v.repoId)
        ids.push((await agent.api.post("/api/agents/claim", { lease_seconds: 30 })).body.bug.id)
      }
      await svc.sql`update bug_bots set lease_expires_at = now() - interval '1 second' where id in ${svc.sql(ids)}`
      await waitFor(async () => {
        const [{ n }] = await svc.sql`select count(*)::int as n from bug_bots where id in ${svc.sql(ids)} and status = 'open'`
        return n === ids.length ? true : undefined
      }, 5000)
      const rows = await svc.sql`
        select bug_id, count(*)::int as n from bug_bot_events where kind = 'lease_expired' and bug_id in ${svc.sql(ids)} group by bug_id`
      expect(rows.length).toBe(ids.length)
      expect(rows.every((r: { n: number }) => r.n === 1)).toBe(true)
    } finally {
      await second.stop()
    }
  })

  test("a lease past its end is lost even before the sweeper runs", async () => {
    const { bug, agent, token } = await claimOne()
    await svc.sql`update bug_bots set lease_expires_at = now() - interval '1 second' where id = ${bug.id}`
    const late = await agent.api.post(`/api/bugs/${bug.id}/heartbeat`, { lease_token: token })
    expect(late.status).toBe(409)
  })

  test("the holder may add notes and change status; a terminal status ends the lease", async () => {
    const { bug, agent, token } = await claimOne()
    expect((await agent.api.post(`/api/bugs/${bug.id}/notes`, { body: "found it" })).status).toBe(201)
    const waiting = await agent.api.put(`/api/bugs/${bug.id}/status`, { status: "awaiting_verification" })
    expect(waiting.status).toBe(200)
    expect((await agent.api.post(`/api/bugs/${bug.id}/heartbeat`, { lease_token: token })).status).toBe(200)
    const resolved = await agent.api.put(`/api/bugs/${bug.id}/status`, { status: "resolved", reason: "fixed" })
    expect(resolved.status).toBe(200)
    expect(resolved.body.resolved_at).not.toBeNull()
    expect((await agent.api.post(`/api/bugs/${bug.id}/heartbeat`, { lease_token: token })).body.error.code).toBe("LEASE_LOST")
    const [row] = await svc.sql`select lease_token, lease_expires_at from bug_bots where id = ${bug.id}`
    expect(row).toEqual({ lease_token: null, lease_expires_at: null })
  })

  test("an expired lease on a bug awaiting verification ends without reopening it", async () => {
    const { v, bug, agent } = await claimOne()
    expect((await agent.api.put(`/api/bugs/${bug.id}/status`, { status: "awaiting_verification" })).status).toBe(200)
    await svc.sql`update bug_bots set lease_expires_at = now() - interval '1 second' where id = ${bug.id}`
    await waitFor(async () => {
      const [row] = await svc.sql`select lease_token from bug_bots where id = ${bug.id}`
      return row.lease_token === null ? true : undefined
    }, 5000)
    const after = await v.root.get(`/api/bugs/${bug.id}`)
    expect(after.body.status).toBe("awaiting_verification")
    expect((await lifecycle(bug.id)).at(-1)).toMatchObject({ kind: "lease_expired", actor_type: "system" })
  })
})
