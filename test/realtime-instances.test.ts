import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { spawnService, type ChildService } from "./lib/Child.js"
import { client } from "./lib/Client.js"
import { freshDatabase } from "./lib/Service.js"
import { connectWs, subscribe, type WsClient } from "./lib/Ws.js"

let instances: Array<ChildService> = []
let databaseUrl: string
const sockets: Array<WsClient> = []

beforeAll(async () => {
  databaseUrl = (await freshDatabase()).url
  instances = [spawnService(databaseUrl), spawnService(databaseUrl), spawnService(databaseUrl)]
  await Promise.all(instances.map((i) => i.ready()))
}, 60_000)

afterAll(async () => {
  for (const s of sockets) s.close()
  await Promise.all(instances.map((i) => i.kill()))
})

const roomIds = async (room: string) => {
  const sql = new Bun.SQL(databaseUrl)
  const rows = await sql`select id::text as id from realtime_events where rooms @> array[${room}]::text[] order by realtime_events.id`
  await sql.close()
  return rows.map((r: { id: string }) => r.id)
}

describe("several instances on one database", () => {
  test("a change made through any instance reaches the subscribers of every instance exactly once, in order", async () => {
    const [a, b] = instances
    const rootA = client(a.baseUrl, a.rootToken)
    const rootB = client(b.baseUrl, b.rootToken)
    const village = (await rootA.post("/api/villages", { name: "multi" })).body
    const repo = (await rootA.post(`/api/villages/${village.id}/repos`, { full_name: "org/multi" })).body
    const room = `village:${village.id}`
    const subscribers = await Promise.all(
      instances.flatMap((i) => [connectWs(i.baseUrl, i.rootToken), connectWs(i.baseUrl, i.rootToken, { via: "query" })])
    )
    sockets.push(...subscribers)
    for (const s of subscribers) expect((await subscribe(s, room)).type).toBe("subscribed")

    // Two writers on two instances at once, each walking its own bugs through several versions.
    const writer = async (api: ReturnType<typeof client>, n: number) => {
      for (let i = 0; i < n; i++) {
        const bug = (await api.post(`/api/villages/${village.id}/bugs`, { repo_id: repo.id, title: `bug ${i}` })).body
        for (const status of ["triaged", "open", "triaged", "resolved"]) {
          expect((await api.put(`/api/bugs/${bug.id}/status`, { status })).status).toBe(200)
        }
      }
    }
    await Promise.all([writer(rootA, 6), writer(rootB, 6)])
    const expected = await roomIds(room)
    expect(expected.length).toBe(60)
    for (const s of subscribers) {
      const events = await s.collect((m) => m.type === "event" && m.room === room, expected.length, 10_000)
      expect(events.map((e) => e.id)).toEqual(expected)
      const versions = new Map<string, number>()
      for (const e of events) {
        expect(e.data.version).toBe((versions.get(e.data.id) ?? 0) + 1)
        versions.set(e.data.id, e.data.version)
      }
    }
    await Bun.sleep(300)
    for (const s of subscribers) expect(s.messages.filter((m) => m.type === "event").length).toBe(expected.length)
  }, 60_000)

  test("a subscriber that moves to another instance resumes with since, without gap or duplicate", async () => {
    const [a, b, c] = instances
    const root = client(a.baseUrl, a.rootToken)
    const village = (await root.post("/api/villages", { name: "moving" })).body
    const repo = (await root.post(`/api/villages/${village.id}/repos`, { full_name: "org/moving" })).body
    const room = `repo:${repo.id}`
    const first = await connectWs(b.baseUrl, b.rootToken)
    await subscribe(first, room)
    const made: Array<Promise<unknown>> = []
    for (let i = 0; i < 5; i++) made.push(root.post(`/api/villages/${village.id}/bugs`, { repo_id: repo.id, title: `early ${i}` }))
    await Promise.all(made)
    const early = await first.collect((m) => m.type === "event", 5)
    first.close()
    for (let i = 0; i < 5; i++) await root.post(`/api/villages/${village.id}/bugs`, { repo_id: repo.id, title: `missed ${i}` })
    const second = await connectWs(c.baseUrl, c.rootToken)
    sockets.push(second)
    await subscribe(second, room, early[early.length - 1].id)
    for (let i = 0; i < 5; i++) await root.post(`/api/villages/${village.id}/bugs`, { repo_id: repo.id, title: `late ${i}` })
    const rest = await second.collect((m) => m.type === "event", 10)
    expect([...early, ...rest].map((e) => e.id)).toEqual(await roomIds(room))
  }, 30_000)
})
