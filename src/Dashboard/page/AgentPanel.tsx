import { useEffect, useState } from "preact/hooks"
import type { Agent, Api, Bug, WorkStreamEvent } from "./api.js"
import { inWords } from "./api.js"
import { Dialog } from "./Dialog.js"
import type { Live } from "./live.js"
import { VirtualList } from "./VirtualList.js"

/** The newest lines of a work stream the panel keeps. */
const keep = 5000

/** An agent: its state and current bug, and its work stream live from room `agent:<id>` (replayed from the start). */
export function AgentPanel({ api, live, agent, agentId, current, villageId, onClose }: {
  readonly api: Api
  readonly live: Live
  readonly agent: Agent | undefined
  readonly agentId: string
  readonly current: Bug | undefined
  readonly villageId: string
  readonly onClose: () => void
}) {
  const [entries, setEntries] = useState<ReadonlyArray<WorkStreamEvent>>([])
  const [outcome, setOutcome] = useState<{ readonly ok: boolean; readonly text: string } | undefined>(undefined)

  useEffect(() => {
    const seen = new Set<string>()
    let lines: Array<WorkStreamEvent> = []
    setEntries([])
    return live.join(
      `agent:${agentId}`,
      {
        onEvents: (frames) => {
          const fresh = frames
            .filter((frame) => frame.event === "work_stream_event")
            .map((frame) => frame.data as WorkStreamEvent)
            .filter((entry) => !seen.has(entry.id) && seen.add(entry.id))
          if (fresh.length === 0) return
          lines = [...fresh.reverse(), ...lines].slice(0, keep)
          setEntries(lines)
        },
        onResync: () => undefined,
        onError: (message) => setOutcome({ ok: false, text: message })
      },
      "0"
    )
  }, [live, agentId])

  const toggle = async () => {
    if (agent === undefined) return
    const next = agent.state === "active" ? "paused" : "active"
    try {
      await api.setAgentState(agent.id, next)
      setOutcome({ ok: true, text: next === "paused" ? "Paused." : "Resumed." })
    } catch (error) {
      setOutcome({ ok: false, text: inWords(error) })
    }
  }

  return (
    <Dialog name="agent-panel" title={agent === undefined ? "Agent" : `Agent ${agent.name}`} onClose={onClose}>
      {agent === undefined ? <p>Loading…</p> : (
        <dl class="fields">
          <dt>State</dt>
          <dd data-field="state">{agent.state}</dd>
          <dt>Kind</dt>
          <dd>{agent.kind ?? "—"}</dd>
          <dt>Current bug</dt>
          <dd data-field="current">{current === undefined ? "none" : <a href={`#/villages/${villageId}/bugs/${current.id}`}>{current.title}</a>}</dd>
        </dl>
      )}
      {agent === undefined ? null : <button type="button" onClick={() => void toggle()}>{agent.state === "active" ? "Pause agent" : "Resume agent"}</button>}
      {outcome === undefined ? null : <p role={outcome.ok ? "status" : "alert"} class={outcome.ok ? "ok" : "error"}>{outcome.text}</p>}
      <section aria-labelledby="stream-heading">
        <h3 id="stream-heading">Work stream <span class="count">{entries.length}</span></h3>
        {entries.length === 0 ? <p class="empty">Nothing posted yet.</p> : (
          <VirtualList
            class="stream"
            items={entries}
            rowHeight={48}
            maxHeight={48 * 10}
            label="work stream, newest first"
            keyOf={(entry) => entry.id}
            render={(entry) => (
              <div class="stream-line" tabIndex={0} data-type={entry.type}>
                <time dateTime={entry.created_at}>{new Date(entry.created_at).toLocaleTimeString()}</time> <strong>{entry.type}</strong>{" "}
                <span>{entry.message ?? ""}</span>
              </div>
            )}
          />
        )}
      </section>
    </Dialog>
  )
}
