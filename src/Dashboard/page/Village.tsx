import { Component } from "preact"
import { useEffect, useMemo, useRef, useState } from "preact/hooks"
import type { Agent, Api, Bug, Me } from "./api.js"
import { inWords, severities, statuses, statusLabel } from "./api.js"
import { AgentPanel } from "./AgentPanel.js"
import { BugDrawer } from "./Drawer.js"
import type { Live } from "./live.js"
import { type Filters, type House, type Lane, noFilters, type SeverityFilter, VillageState } from "./store.js"
import { VirtualList } from "./VirtualList.js"
import { navigate } from "./router.js"

const rowHeight = 32

/** The village's state, loaded over REST once its room is joined, then kept live by the room. */
const useVillage = (api: Api, live: Live, villageId: string) => {
  const [state, setState] = useState(() => new VillageState())
  const [revision, setRevision] = useState(0)
  const [loaded, setLoaded] = useState<{ readonly bugs: number; readonly done: boolean }>({ bugs: 0, done: false })
  const [error, setError] = useState<string | undefined>(undefined)

  useEffect(() => {
    const fresh = new VillageState()
    setState(fresh)
    let generation = 0
    const changed = () => setRevision((n) => n + 1)
    const load = async () => {
      const current = ++generation
      setLoaded({ bugs: 0, done: false })
      try {
        const [village, repos, agents] = await Promise.all([api.village(villageId), api.repos(villageId), api.agents(villageId)])
        if (current !== generation) return
        fresh.village = village
        fresh.repos = repos
        agents.forEach((agent) => fresh.applyAgent(agent))
        changed()
        let count = 0
        await api.bugs(villageId, (items) => {
          if (current !== generation) return
          items.forEach((bug) => fresh.applyBug(bug))
          count += items.length
          setLoaded({ bugs: count, done: false })
          changed()
        })
        if (current === generation) setLoaded({ bugs: count, done: true })
        setError(undefined)
      } catch (cause) {
        if (current === generation) setError(inWords(cause))
      }
    }
    const leave = live.join(`village:${villageId}`, {
      onEvents: (frames) => {
        fresh.applyFrames(frames)
        changed()
      },
      onResync: () => void load(),
      onError: setError
    })
    return () => {
      generation++
      leave()
    }
  }, [api, live, villageId])

  return { state, revision, loaded, error }
}

const severityName = (severity: SeverityFilter) => (severity === "none" ? "no severity" : severity)

function BugBot({ bug, agent, villageId }: { readonly bug: Bug; readonly agent: Agent | undefined; readonly villageId: string }) {
  const severity = bug.severity ?? "none"
  return (
    <button
      type="button"
      class={`bot sev-${severity}`}
      data-bug={bug.id}
      onClick={() => navigate(`/villages/${villageId}/bugs/${bug.id}`)}
    >
      <span class="dot" aria-hidden="true" />
      <span class="sr-only">{severityName(severity)}: </span>
      <span class="title">{bug.title}</span>
      {agent === undefined ? null : <span class="agent-tag" data-agent={agent.id}>{agent.name}</span>}
    </button>
  )
}

interface LaneProps {
  readonly lane: Lane
  readonly house: House
  readonly state: VillageState
  readonly agentsVersion: number
  readonly villageId: string
}

/** Rendered again only when its bugs (or the agents' names) changed: a burst touches few lanes. */
class LaneView extends Component<LaneProps> {
  override shouldComponentUpdate(next: LaneProps) {
    const { lane, agentsVersion, villageId } = this.props
    return next.lane.version !== lane.version || next.lane.bugs !== lane.bugs || next.agentsVersion !== agentsVersion || next.villageId !== villageId
  }

  override render({ lane, house, state, villageId }: LaneProps) {
    const label = `${statusLabel(lane.status)} in ${house.repo.full_name}`
    const counts = severities.filter((severity) => lane.bySeverity[severity] > 0).map((severity) => `${lane.bySeverity[severity]} ${severity}`)
    return (
      <section class={`lane status-${lane.status}`} data-status={lane.status} aria-label={label}>
        <h4>
          <span class="lane-name">{statusLabel(lane.status)}</span> <span class="count">{lane.bugs.length}</span>
          {counts.length > 0 ? <span class="sev-counts">{counts.join(" · ")}</span> : null}
        </h4>
        {lane.bugs.length === 0 ? null : (
          <VirtualList
            items={lane.bugs}
            rowHeight={rowHeight}
            maxHeight={rowHeight * 6}
            label={label}
            keyOf={(bug) => bug.id}
            render={(bug) => (
              <BugBot bug={bug} villageId={villageId} agent={bug.assigned_agent_id === null ? undefined : state.agents.get(bug.assigned_agent_id)} />
            )}
          />
        )}
      </section>
    )
  }
}

function AgentChip({ agent, current, villageId }: { readonly agent: Agent; readonly current: Bug | undefined; readonly villageId: string }) {
  return (
    <li class={`agent state-${agent.state}`} data-agent={agent.id}>
      <a href={`#/villages/${villageId}/agents/${agent.id}`}>
        <span class="agent-name">{agent.name}</span> <span class="agent-state">{agent.state}</span>
        <span class="agent-work">{current === undefined ? "idle" : `on: ${current.title}`}</span>
      </a>
    </li>
  )
}

function HouseView({ house, state, currentBugs, villageId }: { readonly house: House; readonly state: VillageState; readonly currentBugs: ReadonlyMap<string, Bug>; readonly villageId: string }) {
  const headingId = `house-${house.repo.id}`
  return (
    <article class="house" data-repo={house.repo.id} aria-labelledby={headingId}>
      <h3 id={headingId}>
        <span class="roof" aria-hidden="true" />
        {house.repo.full_name} <span class="count">{house.total} bug bots</span>
      </h3>
      {house.agents.length > 0 ? (
        <ul class="agents here" aria-label={`agents working in ${house.repo.full_name}`}>
          {house.agents.map((agent) => <AgentChip key={agent.id} agent={agent} current={currentBugs.get(agent.id)} villageId={villageId} />)}
        </ul>
      ) : null}
      <div class="lanes">
        {house.lanes.map((lane) => (
          <LaneView key={lane.status} lane={lane} house={house} state={state} agentsVersion={state.agentsVersion} villageId={villageId} />
        ))}
      </div>
    </article>
  )
}

function FilterBar({ filters, onChange, state }: { readonly filters: Filters; readonly onChange: (filters: Filters) => void; readonly state: VillageState }) {
  return (
    <form class="filters" aria-label="filters" onSubmit={(event) => event.preventDefault()}>
      <label>
        Status
        <select value={filters.status} onChange={(event) => onChange({ ...filters, status: (event.currentTarget as HTMLSelectElement).value as Filters["status"] })}>
          <option value="">all</option>
          {statuses.map((status) => <option key={status} value={status}>{statusLabel(status)}</option>)}
        </select>
      </label>
      <label>
        Severity
        <select value={filters.severity} onChange={(event) => onChange({ ...filters, severity: (event.currentTarget as HTMLSelectElement).value as Filters["severity"] })}>
          <option value="">all</option>
          {severities.map((severity) => <option key={severity} value={severity}>{severity}</option>)}
          <option value="none">none</option>
        </select>
      </label>
      <label>
        Repo
        <select value={filters.repo} onChange={(event) => onChange({ ...filters, repo: (event.currentTarget as HTMLSelectElement).value })}>
          <option value="">all</option>
          {state.repos.map((repo) => <option key={repo.id} value={repo.id}>{repo.full_name}</option>)}
        </select>
      </label>
    </form>
  )
}

export function VillageView({ api, live, me, villageId, bugId, agentId }: {
  readonly api: Api
  readonly live: Live
  readonly me: Me
  readonly villageId: string
  readonly bugId: string | undefined
  readonly agentId: string | undefined
}) {
  const { state, revision, loaded, error } = useVillage(api, live, villageId)
  const [filters, setFilters] = useState<Filters>(noFilters)
  const currentBugs = useMemo(() => state.currentBugs(), [state, revision])
  const houses = useMemo(() => state.houses(filters, currentBugs), [state, revision, filters, currentBugs])
  const idle = useMemo(
    () => [...state.agents.values()].filter((agent) => !currentBugs.has(agent.id)).sort((a, b) => a.name.localeCompare(b.name)),
    [state, revision, currentBugs]
  )
  const role = me.is_superuser ? "superuser" : me.memberships.find((membership) => membership.village_id === villageId)?.role
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => heading.current?.focus(), [villageId])

  return (
    <div class="village">
      <p><a href="#/">All villages</a></p>
      <h2 ref={heading} tabIndex={-1}>{state.village?.name ?? "Village"}</h2>
      <p class="meta">
        {role === undefined ? null : <span>Your role: {role}. </span>}
        <span role="status" aria-live="polite" class="loading">
          {loaded.done ? `${state.bugs.size} bugs, ${state.agents.size} agents` : `Loading bugs… ${loaded.bugs}`}
        </span>
      </p>
      {error === undefined ? null : <p role="alert" class="error">{error}</p>}
      <FilterBar filters={filters} onChange={setFilters} state={state} />
      <section class="square" aria-labelledby="square-heading">
        <h3 id="square-heading">Village square: idle agents</h3>
        {idle.length === 0 ? <p class="empty">Every agent is at work.</p> : (
          <ul class="agents">{idle.map((agent) => <AgentChip key={agent.id} agent={agent} current={undefined} villageId={villageId} />)}</ul>
        )}
      </section>
      <div class="houses">
        {houses.map((house) => <HouseView key={house.repo.id} house={house} state={state} currentBugs={currentBugs} villageId={villageId} />)}
        {houses.length === 0 && loaded.done ? <p class="empty">No repos match.</p> : null}
      </div>
      {bugId === undefined ? null : (
        <BugDrawer api={api} bugId={bugId} live={state.bugs.get(bugId)} state={state} revision={revision} role={role} onClose={() => navigate(`/villages/${villageId}`)} />
      )}
      {agentId === undefined ? null : (
        <AgentPanel api={api} live={live} agent={state.agents.get(agentId)} agentId={agentId} current={currentBugs.get(agentId)} villageId={villageId} onClose={() => navigate(`/villages/${villageId}`)} />
      )}
    </div>
  )
}
