import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { makeAgent, makeBug, makeUser, makeVillage } from "./lib/Fixtures.js"
import { startService, type TestService } from "./lib/Service.js"
import { connectWs, subscribe } from "./lib/Ws.js"

let svc: TestService
beforeAll(async () => {
  svc = await startService()
})
afterAll(() => svc.stop())

describe("agent sessions", () => {
  test("an agent opens a session, logs its work, reads it back page by page, and ends it", async () => {
    const v = await makeVillage(svc)
    const agent = await makeAgent(svc, v.id)
    const bug = await makeBug(v.root, v.id, v.repoId)
    const started = await agent.api.post("/api/agents/me/sessions")
    expect(started.status).toBe(201)
    expect(started.body).toMatchObject({ agent_id: agent.id, ended_at: null })
    expect(typeof started.body.started_at).toBe("string")
    const id = started.body.id as string

    const logged = []
    for (let i = 0; i < 5; i++) {
      const r = await agent.api.post(`/api/agent-sessions/${id}/events`, {
        type: i === 0 ? "step" : "log",
        message: `line ${i}`,
        ...(i === 0 ? { bug_id: bug.id, data: { tool: "grep" } } : {})
      })
      expect(r.status).toBe(201)
      logged.push(r.body)
    }
    expect(logged[0]).toMatchObject({ session_id: id, agent_id: agent.id, bug_id: bug.id, type: "step", message: "line 0", data: { tool: "grep" } })

    const seen: Array<string> = []
    let cursor: string | null = null
    do {
      const page: any = await v.root.get(`/api/agent-sessions/${id}/events?limit=2${cursor ? `&cursor=${cursor}` : ""}`)
      expect(page.status).toBe(200)
      seen.push(...page.body.items.map((e: any) => e.message))
      cursor = page.body.next_cursor
    } while (cursor !== null)
    expect(seen).toEqual(["line 0", "line 1", "line 2", "line 3", "line 4"])

    const ended = await agent.api.post(`/api/agent-sessions/${id}/end`)
    expect(ended.status).toBe(200)
    expect(ended.body.ended_at).not.toBeNull()
    const again = await agent.api.post(`/api/agent-sessions/${id}/end`)
    expect(again.body.ended_at).toBe(ended.body.ended_at)
    const late = await agent.api.post(`/api/agent-sessions/${id}/events`, { type: "log" })
    expect(late.status).toBe(409)
    expect(late.body.error.code).toBe("SESSION_ENDED")
  })

  test("each work-stream event is in the realtime log of room agent:<id>, with the request's correlation id", async () => {
    const v = await makeVillage(svc)
    const agent = await makeAgent(svc, v.id)
    const { body: session } = await agent.api.post("/api/agents/me/sessions")
    const r = await agent.api.post(`/api/agent-sessions/${session.id}/events`, { type: "log", message: "hello" }, { "x-request-id": "ws-corr-1" })
    expect(r.status).toBe(201)
    expect(r.body.correlation_id).toBe("ws-corr-1")
    const rows = await svc.sql`select event, rooms, correlation_id, data from realtime_events where correlation_id = 'ws-corr-1'`
    expect(rows.length).toBe(1)
    expect(rows[0]).toMatchObject({ event: "work_stream_event", rooms: [`agent:${agent.id}`], correlation_id: "ws-corr-1" })
    expect(rows[0].data).toMatchObject({ id: r.body.id, session_id: session.id, message: "hello" })
  })

  test("a village member watching agent:<id> over /ws receives the work stream", async () => {
    const v = await makeVillage(svc)
    const agent = await makeAgent(svc, v.id)
    const operator = await makeUser(svc, { village: v.id, role: "operator" })
    const ws = await connectWs(svc.baseUrl, operator.token)
    try {
      expect(await subscribe(ws, `agent:${agent.id}`)).toMatchObject({ type: "subscribed" })
      const { body: session } = await agent.api.post("/api/agents/me/sessions")
      const posted = await agent.api.post(`/api/agent-sessions/${session.id}/events`, { type: "log", message: "live" }, { "x-request-id": "ws-live-1" })
      expect(posted.status).toBe(201)
      const frame = await ws.next((m) => m.type === "event" && m.event === "work_stream_event")
      expect(frame).toMatchObject({ room: `agent:${agent.id}`, correlation_id: "ws-live-1", data: { id: posted.body.id, message: "live" } })
      expect((await v.root.put(`/api/agents/${agent.id}/state`, { state: "paused" })).status).toBe(200)
      const update = await ws.next((m) => m.type === "event" && m.event === "agent_update")
      expect(update.data).toMatchObject({ id: agent.id, state: "paused" })
    } finally {
      ws.close()
    }
  })

  test("who may read and write a session", async () => {
    const v = await makeVillage(svc)
    const agent = await makeAgent(svc, v.id)
    const peer = await makeAgent(svc, v.id)
    const operator = await makeUser(svc, { village: v.id, role: "operator" })
    const outsider = await makeUser(svc)
    const elsewhere = await makeVillage(svc)
    const foreignAgent = await makeAgent(svc, elsewhere.id)
    const foreignBug = await makeBug(elsewhere.root, elsewhere.id, elsewhere.repoId)
    const { body: session } = await agent.api.post("/api/agents/me/sessions")
    await agent.api.post(`/api/agent-sessions/${session.id}/events`, { type: "log" })

    expect((await operator.api.post("/api/agents/me/sessions")).status).toBe(403)
    expect((await peer.api.get(`/api/agent-sessions/${session.id}/events`)).status).toBe(200)
    expect((await operator.api.get(`/api/agent-sessions/${session.id}/events`)).status).toBe(200)
    expect((await outsider.api.get(`/api/agent-sessions/${session.id}/events`)).status).toBe(404)
    expect((await foreignAgent.api.get(`/api/agent-sessions/${session.id}/events`)).status).toBe(404)

    const peerWrite = await peer.api.post(`/api/agent-sessions/${session.id}/events`, { type: "log" })
    expect(peerWrite.status).toBe(403)
    expect((await operator.api.post(`/api/agent-sessions/${session.id}/events`, { type: "log" })).status).toBe(403)
    expect((await foreignAgent.api.post(`/api/agent-sessions/${session.id}/end`)).status).toBe(404)
    const foreign = await agent.api.post(`/api/agent-sessions/${session.id}/events`, { type: "log", bug_id: foreignBug.id })
    expect(foreign.status).toBe(404)
    expect((await agent.api.post(`/api/agent-sessions/${crypto.randomUUID()}/events`, { type: "log" })).status).toBe(404)
    expect((await agent.api.post(`/api/agent-sessions/not-a-uuid/events`, { type: "log" })).status).toBe(400)
    expect((await agent.api.post(`/api/agent-sessions/${session.id}/events`, { type: "" })).status).toBe(400)
  })
})
