import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { client, type Client } from "./lib/Client.js"
import { makeAgent, makeBug, makeVillage } from "./lib/Fixtures.js"
import { startService, type TestService } from "./lib/Service.js"

let svc: TestService
let root: Client
let village: Awaited<ReturnType<typeof makeVillage>>
let otherRepo: string
let agentId: string
const severities = ["critical", "high", "medium", "low", null] as const

beforeAll(async () => {
  svc = await startService()
  root = client(svc.baseUrl, svc.rootToken)
  village = await makeVillage(svc)
  otherRepo = (await root.post(`/api/villages/${village.id}/repos`, { full_name: "org/other" })).body.id
  agentId = (await makeAgent(svc, village.id)).id
  for (let i = 0; i < 60; i++) {
    const bug = await makeBug(root, village.id, i % 3 === 0 ? otherRepo : village.repoId, { severity: severities[i % 5], title: `bug ${i}` })
    if (i % 4 === 0) await root.put(`/api/bugs/${bug.id}/status`, { status: "triaged" })
    if (i % 10 === 0) await root.post(`/api/bugs/${bug.id}/assign`, { agent_id: agentId })
  }
})
afterAll(() => svc.stop())

const walk = async (query: string, limit: number, between?: () => Promise<void>) => {
  const items: Array<any> = []
  let cursor: string | null = null
  do {
    const page: { status: number; body: { items: Array<any>; next_cursor: string | null } } = await root.get(
      `/api/villages/${village.id}/bugs?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`
    )
    expect(page.status).toBe(200)
    expect(page.body.items.length).toBeLessThanOrEqual(limit)
    items.push(...page.body.items)
    cursor = page.body.next_cursor
    if (between) await between()
  } while (cursor)
  return items
}

describe("keyset pagination", () => {
  test("a cursor stays valid while rows are inserted: every row once, in order", async () => {
    const before = await walk("&sort=created_at", 200)
    let added = 0
    const seen = await walk("&sort=created_at", 7, async () => {
      await makeBug(root, village.id, village.repoId, { title: `inserted ${added++}` })
    })
    const ids = seen.map((b) => b.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.slice(0, before.length)).toEqual(before.map((b) => b.id))
    const newestFirst = await walk("", 13, async () => {
      await makeBug(root, village.id, village.repoId, { title: `inserted ${added++}` })
    })
    const newestIds = newestFirst.map((b) => b.id)
    expect(new Set(newestIds).size).toBe(newestIds.length)
    for (const b of before) expect(newestIds).toContain(b.id)
  })

  test("sorts: -created_at (default), created_at, updated_at, -updated_at, severity", async () => {
    const byCreated = await walk("", 9)
    for (let i = 1; i < byCreated.length; i++) expect(byCreated[i - 1].created_at >= byCreated[i].created_at).toBe(true)
    const byUpdated = await walk("&sort=-updated_at", 11)
    for (let i = 1; i < byUpdated.length; i++) expect(byUpdated[i - 1].updated_at >= byUpdated[i].updated_at).toBe(true)
    const ascUpdated = await walk("&sort=updated_at", 11)
    expect(ascUpdated.map((b) => b.id)).toEqual([...byUpdated].reverse().map((b) => b.id))
    const bySeverity = await walk("&sort=severity", 8)
    const rank = (s: string | null) => (s === null ? 4 : ["critical", "high", "medium", "low"].indexOf(s))
    for (let i = 1; i < bySeverity.length; i++) expect(rank(bySeverity[i - 1].severity)).toBeLessThanOrEqual(rank(bySeverity[i].severity))
    expect(bySeverity).toHaveLength(byCreated.length)
  })

  test("filters: status list, repo, agent, severity, source", async () => {
    const all = await walk("", 200)
    const check = async (query: string, predicate: (b: any) => boolean) => {
      const got = await walk(query, 6)
      const expected = all.filter(predicate)
      expect(got.length).toBeGreaterThan(0)
      expect(got.map((b) => b.id).sort()).toEqual(expected.map((b) => b.id).sort())
    }
    await check("&status=triaged", (b) => b.status === "triaged")
    await check("&status=open,assigned", (b) => b.status === "open" || b.status === "assigned")
    await check(`&repo_id=${otherRepo}`, (b) => b.repo_id === otherRepo)
    await check(`&assigned_agent_id=${agentId}`, (b) => b.assigned_agent_id === agentId)
    await check("&severity=critical", (b) => b.severity === "critical")
    await check("&source=manual&status=open", (b) => b.source === "manual" && b.status === "open")
  })

  test("other lists page with the same envelope", async () => {
    for (let i = 0; i < 5; i++) await root.post(`/api/villages/${village.id}/repos`, { full_name: `org/page-${i}` })
    const first = await root.get(`/api/villages/${village.id}/repos?limit=3`)
    expect(first.body.items).toHaveLength(3)
    expect(first.body.next_cursor).toBeString()
    const rest = await root.get(`/api/villages/${village.id}/repos?limit=50&cursor=${first.body.next_cursor}`)
    expect(rest.body.next_cursor).toBeNull()
    const names = [...first.body.items, ...rest.body.items].map((r: { full_name: string }) => r.full_name)
    expect(new Set(names).size).toBe(names.length)
    expect(names).toHaveLength(7)
  })
})
