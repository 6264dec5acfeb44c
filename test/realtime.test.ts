import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { makeBug, makeVillage } from "./lib/Fixtures.js"
import { startService, type TestService } from "./lib/Service.js"
import { connectWs, subscribe } from "./lib/Ws.js"

let svc: TestService
beforeAll(async () => {
  svc = await startService()
})
afterAll(() => svc.stop())

describe("/ws rooms", () => {
  test("a subscriber of the village and repo rooms receives spawn, update and resolved", async () => {
    const v = await makeVillage(svc)
    const ws = await connectWs(svc.baseUrl, svc.rootToken)
    expect(await subscribe(ws, `village:${v.id}`)).toEqual({ type: "subscribed", room: `village:${v.id}` })
    expect((await subscribe(ws, `repo:${v.repoId}`)).type).toBe("subscribed")
    const bug = await makeBug(v.root, v.id, v.repoId)
    expect((await v.root.put(`/api/bugs/${bug.id}/status`, { status: "triaged" })).status).toBe(200)
    expect((await v.root.put(`/api/bugs/${bug.id}/status`, { status: "resolved" })).status).toBe(200)
    for (const room of [`village:${v.id}`, `repo:${v.repoId}`]) {
      const events = await ws.collect((m) => m.type === "event" && m.room === room, 3)
      expect(events.map((e) => e.event)).toEqual(["bug_bot_spawn", "bug_bot_update", "bug_bot_resolved"])
      expect(events.map((e) => e.data.version)).toEqual([1, 2, 3])
      expect(events[0].data.description).toBeUndefined()
      expect(events[0].data.id).toBe(bug.id)
    }
    ws.close()
  })
})
