import { expect, test } from "bun:test"
import type { Bug, Status } from "../src/Dashboard/page/api.js"
import { statuses } from "../src/Dashboard/page/api.js"
import { noFilters, VillageState } from "../src/Dashboard/page/store.js"

/**
 * The dashboard's village state keeps each house's lanes sorted as bugs move (a search and a
 * splice per change). Whatever order REST pages and room events arrive in, every lane must equal
 * the bugs of that repo and status at their newest version, most recently changed first.
 */

const repos = ["r1", "r2", "r3"].map((id) => ({ id, village_id: "v", full_name: `acme/${id}` }))
const severities = ["critical", "high", "medium", "low", null] as const

const bugAt = (id: number, version: number, random: () => number): Bug => ({
  id: `bug-${String(id).padStart(4, "0")}`,
  village_id: "v",
  repo_id: repos[Math.floor(random() * repos.length)].id,
  provider: "manual",
  issue_number: null,
  title: `bug ${id}`,
  status: statuses[Math.floor(random() * statuses.length)] as Status,
  severity: severities[Math.floor(random() * severities.length)],
  category: null,
  assigned_agent_id: null,
  source: "manual",
  version,
  created_at: "2026-01-01T00:00:00.000Z",
  // Few distinct timestamps, so ties (broken by id) happen often.
  updated_at: new Date(Date.UTC(2026, 0, 1, 0, 0, Math.floor(random() * 20))).toISOString(),
  resolved_at: null
})

/** A small seeded generator, so a failure can be replayed. */
const seeded = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}

test("lanes equal the newest version of every bug, sorted, after shuffled pages and events", () => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    const random = seeded(seed)
    const state = new VillageState()
    state.repos = repos
    const newest = new Map<string, Bug>()
    const deliveries: Array<Bug> = []
    for (let id = 0; id < 300; id++) {
      const versions = 1 + Math.floor(random() * 5)
      for (let version = 1; version <= versions; version++) {
        const bug = bugAt(id, version, random)
        deliveries.push(bug)
        newest.set(bug.id, bug)
      }
    }
    // Arrival in any order, some twice (a page and an event of the same version).
    deliveries.sort(() => random() - 0.5)
    for (const bug of deliveries) {
      state.applyBug(bug)
      if (random() < 0.1) state.applyBug(bug)
    }

    const houses = state.houses(noFilters, new Map())
    expect(houses.map((house) => house.repo.id)).toEqual(repos.map((repo) => repo.id))
    for (const house of houses) {
      for (const lane of house.lanes) {
        const expected = [...newest.values()]
          .filter((bug) => bug.repo_id === house.repo.id && bug.status === lane.status)
          .sort((a, b) => (a.updated_at !== b.updated_at ? (a.updated_at < b.updated_at ? 1 : -1) : a.id < b.id ? 1 : -1))
        expect(lane.bugs.map((bug) => `${bug.id}@${bug.version}`)).toEqual(expected.map((bug) => `${bug.id}@${bug.version}`))
        for (const severity of ["critical", "high", "medium", "low", "none"] as const) {
          expect(lane.bySeverity[severity]).toBe(expected.filter((bug) => (bug.severity ?? "none") === severity).length)
        }
      }
    }
    expect(houses.reduce((sum, house) => sum + house.total, 0)).toBe(newest.size)

    const critical = state.houses({ status: "open", severity: "critical", repo: "r2" }, new Map())
    expect(critical.map((house) => house.repo.id)).toEqual(["r2"])
    expect(critical[0].lanes.map((lane) => lane.status)).toEqual(["open"])
    expect(critical[0].lanes[0].bugs.every((bug) => bug.severity === "critical" && bug.repo_id === "r2" && bug.status === "open")).toBe(true)
    expect(critical[0].lanes[0].bugs.length).toBe(
      [...newest.values()].filter((bug) => bug.severity === "critical" && bug.repo_id === "r2" && bug.status === "open").length
    )
  }
})

test("an agent's current bug is the latest updated one it is working on", () => {
  const state = new VillageState()
  state.repos = repos
  const base = { village_id: "v", repo_id: "r1", provider: "manual", issue_number: null, severity: null, category: null, source: "manual", version: 1, created_at: "2026-01-01T00:00:00.000Z", resolved_at: null }
  state.applyBug({ ...base, id: "a", title: "a", status: "in_progress", assigned_agent_id: "agent-1", updated_at: "2026-01-01T00:00:01.000Z" })
  state.applyBug({ ...base, id: "b", title: "b", status: "assigned", assigned_agent_id: "agent-1", updated_at: "2026-01-01T00:00:02.000Z" })
  state.applyBug({ ...base, id: "c", title: "c", status: "resolved", assigned_agent_id: "agent-1", updated_at: "2026-01-01T00:00:03.000Z" })
  state.applyBug({ ...base, id: "d", title: "d", status: "in_progress", assigned_agent_id: "agent-2", updated_at: "2026-01-01T00:00:01.000Z" })
  const current = state.currentBugs()
  expect(current.get("agent-1")?.id).toBe("b")
  expect(current.get("agent-2")?.id).toBe("d")
  state.applyBug({ ...base, id: "d", title: "d", status: "open", assigned_agent_id: null, version: 2, updated_at: "2026-01-01T00:00:04.000Z" })
  expect(state.currentBugs().has("agent-2")).toBe(false)
})
