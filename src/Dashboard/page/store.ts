import type { Agent, Bug, Repo, Severity, Status, Village } from "./api.js"
import { statuses } from "./api.js"
import type { EventFrame } from "./live.js"

/** A bug's severity for filters: its value, or `none`. */
export type SeverityFilter = Severity | "none"

export interface Filters {
  readonly status: Status | ""
  readonly severity: SeverityFilter | ""
  readonly repo: string
}

export const noFilters: Filters = { status: "", severity: "", repo: "" }

export interface Lane {
  readonly status: Status
  readonly bugs: ReadonlyArray<Bug>
  readonly bySeverity: Readonly<Record<SeverityFilter, number>>
  /** Changes whenever the lane's bugs do: a lane whose version stays is not rendered again. */
  readonly version: number
}

export interface House {
  readonly repo: Repo
  readonly lanes: ReadonlyArray<Lane>
  readonly total: number
  /** Agents whose current bug lives in this repo. */
  readonly agents: ReadonlyArray<Agent>
}

/** One (repo, status) lane, kept sorted as bugs come and go, so a change costs a search and a splice. */
interface LaneData {
  readonly bugs: Array<Bug>
  readonly bySeverity: Record<SeverityFilter, number>
  version: number
}

/** Most recently changed first; the id breaks ties, so every bug has one place. */
const before = (a: Bug, b: Bug) => a.updated_at > b.updated_at || (a.updated_at === b.updated_at && a.id > b.id)

/** The index of the first bug in `bugs` that does not come before `bug`. */
const placeOf = (bugs: ReadonlyArray<Bug>, bug: Bug) => {
  let low = 0
  let high = bugs.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (before(bugs[middle], bug)) low = middle + 1
    else high = middle
  }
  return low
}

/** Statuses in which a bug is an agent's current work. */
const working: ReadonlySet<Status> = new Set(["assigned", "in_progress", "awaiting_verification"])

/**
 * What the village view shows, kept outside Preact's state: ten thousand bugs change in place, and
 * a render is asked for once per batch of events (see `Live`).
 */
export class VillageState {
  village: Village | undefined
  repos: ReadonlyArray<Repo> = []
  readonly bugs = new Map<string, Bug>()
  readonly agents = new Map<string, Agent>()
  /** Changes whenever an agent does (rows show agents' names). */
  agentsVersion = 0
  private readonly lanes = new Map<string, LaneData>()

  private lane(repoId: string, status: Status) {
    const key = `${repoId} ${status}`
    let lane = this.lanes.get(key)
    if (lane === undefined) {
      lane = { bugs: [], bySeverity: { critical: 0, high: 0, medium: 0, low: 0, none: 0 }, version: 0 }
      this.lanes.set(key, lane)
    }
    return lane
  }

  /** Keeps the newest version of a bug, whichever arrives first: a REST page or a room's event. */
  applyBug(bug: Bug) {
    const current = this.bugs.get(bug.id)
    if (current !== undefined && current.version >= bug.version) return false
    if (current !== undefined) {
      const lane = this.lane(current.repo_id, current.status)
      const at = placeOf(lane.bugs, current)
      lane.bugs.splice(lane.bugs[at]?.id === current.id ? at : lane.bugs.indexOf(current), 1)
      lane.bySeverity[current.severity ?? "none"]--
      lane.version++
    }
    const kept = current?.description === undefined || "description" in bug ? bug : { ...bug, description: current.description }
    this.bugs.set(bug.id, kept)
    const lane = this.lane(kept.repo_id, kept.status)
    lane.bugs.splice(placeOf(lane.bugs, kept), 0, kept)
    lane.bySeverity[kept.severity ?? "none"]++
    lane.version++
    return true
  }

  applyAgent(agent: Agent) {
    const current = this.agents.get(agent.id)
    if (current !== undefined && current.updated_at > agent.updated_at) return false
    this.agents.set(agent.id, agent)
    this.agentsVersion++
    return true
  }

  applyFrames(frames: ReadonlyArray<EventFrame>) {
    for (const frame of frames) {
      if (frame.event === "agent_update") this.applyAgent(frame.data as Agent)
      else if (frame.event.startsWith("bug_bot_")) this.applyBug(frame.data as Bug)
    }
  }

  /** Each agent's current bug: the latest updated one assigned to it and still being worked. */
  currentBugs() {
    const current = new Map<string, Bug>()
    for (const bug of this.bugs.values()) {
      if (bug.assigned_agent_id === null || !working.has(bug.status)) continue
      const other = current.get(bug.assigned_agent_id)
      if (other === undefined || other.updated_at < bug.updated_at) current.set(bug.assigned_agent_id, bug)
    }
    return current
  }

  /** The houses (repos) with their bug bots in lanes by status, most recently changed first. */
  houses(filters: Filters, currentBugs: ReadonlyMap<string, Bug>): ReadonlyArray<House> {
    const shownStatuses = filters.status === "" ? statuses : [filters.status]
    const agentsByRepo = new Map<string, Array<Agent>>()
    currentBugs.forEach((bug, agentId) => {
      const agent = this.agents.get(agentId)
      if (agent === undefined) return
      const list = agentsByRepo.get(bug.repo_id)
      if (list === undefined) agentsByRepo.set(bug.repo_id, [agent])
      else list.push(agent)
    })
    return this.repos
      .filter((repo) => filters.repo === "" || filters.repo === repo.id)
      .map((repo) => {
        const lanes = shownStatuses.map((status): Lane => {
          const lane = this.lane(repo.id, status)
          if (filters.severity === "") return { status, bugs: lane.bugs, bySeverity: lane.bySeverity, version: lane.version }
          const bugs = lane.bugs.filter((bug) => (bug.severity ?? "none") === filters.severity)
          const bySeverity = { critical: 0, high: 0, medium: 0, low: 0, none: 0, [filters.severity]: bugs.length }
          return { status, bugs, bySeverity, version: lane.version }
        })
        const total = lanes.reduce((sum, lane) => sum + lane.bugs.length, 0)
        return { repo, lanes, total, agents: (agentsByRepo.get(repo.id) ?? []).sort((a, b) => a.name.localeCompare(b.name)) }
      })
  }
}
