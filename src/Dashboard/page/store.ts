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
}

export interface House {
  readonly repo: Repo
  readonly lanes: ReadonlyArray<Lane>
  readonly total: number
  /** Agents whose current bug lives in this repo. */
  readonly agents: ReadonlyArray<Agent>
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

  /** Keeps the newest version of a bug, whichever arrives first: a REST page or a room's event. */
  applyBug(bug: Bug) {
    const current = this.bugs.get(bug.id)
    if (current !== undefined && current.version >= bug.version) return false
    this.bugs.set(bug.id, current?.description === undefined || "description" in bug ? bug : { ...bug, description: current.description })
    return true
  }

  applyAgent(agent: Agent) {
    const current = this.agents.get(agent.id)
    if (current !== undefined && current.updated_at > agent.updated_at) return false
    this.agents.set(agent.id, agent)
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
    const byRepo = new Map<string, Map<Status, Array<Bug>>>()
    for (const repo of this.repos) {
      if (filters.repo === "" || filters.repo === repo.id) byRepo.set(repo.id, new Map(shownStatuses.map((status) => [status, []])))
    }
    for (const bug of this.bugs.values()) {
      if (filters.severity !== "" && (bug.severity ?? "none") !== filters.severity) continue
      byRepo.get(bug.repo_id)?.get(bug.status)?.push(bug)
    }
    const agentsByRepo = new Map<string, Array<Agent>>()
    currentBugs.forEach((bug, agentId) => {
      const agent = this.agents.get(agentId)
      if (agent === undefined) return
      const list = agentsByRepo.get(bug.repo_id)
      if (list === undefined) agentsByRepo.set(bug.repo_id, [agent])
      else list.push(agent)
    })
    return this.repos
      .filter((repo) => byRepo.has(repo.id))
      .map((repo) => {
        let total = 0
        const lanes = [...byRepo.get(repo.id)!].map(([status, bugs]) => {
          bugs.sort((a, b) => (a.updated_at < b.updated_at ? 1 : a.updated_at > b.updated_at ? -1 : 0))
          const bySeverity: Record<SeverityFilter, number> = { critical: 0, high: 0, medium: 0, low: 0, none: 0 }
          for (const bug of bugs) bySeverity[bug.severity ?? "none"]++
          total += bugs.length
          return { status, bugs, bySeverity }
        })
        return { repo, lanes, total, agents: (agentsByRepo.get(repo.id) ?? []).sort((a, b) => a.name.localeCompare(b.name)) }
      })
  }
}
