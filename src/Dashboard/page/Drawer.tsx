import { useEffect, useState } from "preact/hooks"
import type { Analysis, Api, Bug, BugEvent, Occurrence, Status } from "./api.js"
import { ApiError, inWords, statuses, statusLabel } from "./api.js"
import { Dialog } from "./Dialog.js"
import type { VillageState } from "./store.js"

/** Roles that may assign, change status and add notes (contract §3). */
const writers = new Set(["superuser", "admin", "maintainer", "triager"])

const when = (timestamp: string | null | undefined) => (timestamp ? new Date(timestamp).toLocaleString() : "—")

interface Outcome {
  readonly ok: boolean
  readonly text: string
}

interface Details {
  readonly events: ReadonlyArray<BugEvent>
  readonly occurrences: ReadonlyArray<Occurrence>
  /** `undefined` when the service has no analyses for bugs (404): the section is hidden; a string says why they could not be read. */
  readonly analyses: ReadonlyArray<Analysis> | string | undefined
}

const analysesOf = (api: Api, id: string) =>
  api.analyses(id).then(
    (answer) => ("items" in answer ? answer.items : answer),
    (error) => (error instanceof ApiError && error.status === 404 ? undefined : inWords(error))
  )

function Fields({ bug, state }: { readonly bug: Bug; readonly state: VillageState }) {
  const repo = state.repos.find((r) => r.id === bug.repo_id)
  const agent = bug.assigned_agent_id === null ? undefined : state.agents.get(bug.assigned_agent_id)
  const rows: Array<[string, string]> = [
    ["Status", statusLabel(bug.status)],
    ["Severity", bug.severity ?? "none"],
    ["Category", bug.category ?? "—"],
    ["Repo", repo?.full_name ?? bug.repo_id],
    ["Agent", agent?.name ?? (bug.assigned_agent_id ?? "nobody")],
    ["Source", `${bug.source} (${bug.provider}${bug.issue_number === null ? "" : ` #${bug.issue_number}`})`],
    ["Version", String(bug.version)],
    ["Created", when(bug.created_at)],
    ["Updated", when(bug.updated_at)],
    ["Resolved", when(bug.resolved_at)]
  ]
  if (bug.sla_due_at) rows.push(["SLA due", when(bug.sla_due_at)])
  if (bug.provider === "report" && typeof bug.occurrences === "number") rows.push(["Occurrences", String(bug.occurrences)], ["Last seen", when(bug.last_seen)])
  return (
    <dl class="fields">
      {rows.map(([name, value]) => [<dt key={`${name}-t`}>{name}</dt>, <dd key={`${name}-d`} data-field={name.toLowerCase()}>{value}</dd>])}
    </dl>
  )
}

function Actions({ api, bug, state, role, onChanged }: {
  readonly api: Api
  readonly bug: Bug
  readonly state: VillageState
  readonly role: string | undefined
  readonly onChanged: (bug: Bug | undefined) => void
}) {
  const [agentId, setAgentId] = useState(bug.assigned_agent_id ?? "")
  const [status, setStatus] = useState<Status | "">("")
  const [reason, setReason] = useState("")
  const [note, setNote] = useState("")
  const [busy, setBusy] = useState(false)
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined)

  const act = async (done: string, run: () => Promise<Bug | undefined>) => {
    if (busy) return false
    setBusy(true)
    setOutcome(undefined)
    try {
      const updated = await run()
      setOutcome({ ok: true, text: done })
      onChanged(updated)
      return true
    } catch (error) {
      setOutcome({ ok: false, text: inWords(error) })
      return false
    } finally {
      setBusy(false)
    }
  }

  // Buttons are never `disabled`: that would drop the keyboard focus while a request runs.
  const agents = [...state.agents.values()].sort((a, b) => a.name.localeCompare(b.name))
  return (
    <section class="actions" aria-labelledby="actions-heading">
      <h3 id="actions-heading">Act</h3>
      {role !== undefined && !writers.has(role) ? (
        <p class="hint">Your role ({role}) may not assign, change status or add notes here; the service will refuse.</p>
      ) : null}
      <form onSubmit={(event) => {
        event.preventDefault()
        void act(agentId === "" ? "Unassigned." : "Assigned.", () => api.assign(bug.id, agentId === "" ? null : agentId))
      }}>
        <label>
          Agent
          <select value={agentId} onChange={(event) => setAgentId((event.currentTarget as HTMLSelectElement).value)}>
            <option value="">nobody</option>
            {agents.map((agent) => <option key={agent.id} value={agent.id}>{agent.name}</option>)}
          </select>
        </label>
        <button type="submit" aria-disabled={busy}>Assign</button>
      </form>
      <form onSubmit={(event) => {
        event.preventDefault()
        if (status === "") return
        void act(`Status changed to ${statusLabel(status)}.`, () => api.setStatus(bug.id, status, reason, bug.version)).then((ok) => {
          if (!ok) return
          setReason("")
          setStatus("")
        })
      }}>
        <label>
          New status
          <select value={status} onChange={(event) => setStatus((event.currentTarget as HTMLSelectElement).value as Status | "")}>
            <option value="">choose…</option>
            {statuses.filter((s) => s !== bug.status).map((s) => <option key={s} value={s}>{statusLabel(s)}</option>)}
          </select>
        </label>
        <label>
          Reason
          <input type="text" maxLength={2000} value={reason} onInput={(event) => setReason((event.currentTarget as HTMLInputElement).value)} />
        </label>
        <button type="submit" aria-disabled={busy || status === ""}>Change status</button>
      </form>
      <form onSubmit={(event) => {
        event.preventDefault()
        if (note.trim() === "") return
        void act("Note added.", () => api.note(bug.id, note).then(() => undefined)).then((ok) => ok && setNote(""))
      }}>
        <label>
          Note
          <textarea rows={3} maxLength={10000} value={note} onInput={(event) => setNote((event.currentTarget as HTMLTextAreaElement).value)} />
        </label>
        <button type="submit" aria-disabled={busy || note.trim() === ""}>Add note</button>
      </form>
      {outcome === undefined ? null : outcome.ok ? (
        <p role="status" class="ok">{outcome.text}</p>
      ) : (
        <p role="alert" class="error">{outcome.text}</p>
      )}
    </section>
  )
}

/** One bug: its fields, what can be done to it, its lifecycle, occurrences and analyses. */
export function BugDrawer({ api, bugId, live, state, role, onClose }: {
  readonly api: Api
  readonly bugId: string
  /** The bug as the village's room last told it. */
  readonly live: Bug | undefined
  readonly state: VillageState
  readonly revision: number
  readonly role: string | undefined
  readonly onClose: () => void
}) {
  const [fetched, setFetched] = useState<Bug | undefined>(undefined)
  const [details, setDetails] = useState<Details | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  const [reloads, setReloads] = useState(0)
  const version = live?.version

  useEffect(() => {
    let current = true
    Promise.all([api.bug(bugId), api.events(bugId), api.occurrences(bugId).then((page) => page.items, () => []), analysesOf(api, bugId)]).then(
      ([bug, events, occurrences, analyses]) => {
        if (!current) return
        setFetched(bug)
        setDetails({ events: events.items, occurrences, analyses })
        setError(undefined)
      },
      (cause) => current && setError(inWords(cause))
    )
    return () => {
      current = false
    }
  }, [api, bugId, version, reloads])

  const bug = fetched !== undefined && (live === undefined || fetched.version >= live.version) ? fetched : live
  return (
    <Dialog
      name="bug-drawer"
      title={bug?.title ?? "Bug"}
      onClose={onClose}
      returnFocus={() => document.querySelector<HTMLElement>(`button[data-bug="${bugId}"]`)}
    >
      {error === undefined ? null : <p role="alert" class="error">{error}</p>}
      {bug === undefined ? <p>Loading…</p> : (
        <>
          <Fields bug={bug} state={state} />
          {bug.description ? <p class="description">{bug.description}</p> : null}
          <Actions
            key={bug.id}
            api={api}
            bug={bug}
            state={state}
            role={role}
            onChanged={(updated) => {
              if (updated !== undefined) setFetched(updated)
              setReloads((n) => n + 1)
            }}
          />
        </>
      )}
      {details === undefined ? null : (
        <>
          <section aria-labelledby="lifecycle-heading">
            <h3 id="lifecycle-heading">Lifecycle</h3>
            <ol class="events">
              {details.events.map((event) => (
                <li key={event.id} data-kind={event.kind}>
                  <time dateTime={event.created_at}>{when(event.created_at)}</time> <strong>{event.kind.replace(/_/g, " ")}</strong>
                  {event.from_status !== null || event.to_status !== null ? ` ${event.from_status ?? "—"} → ${event.to_status ?? "—"}` : ""}
                  {` by ${event.actor_type === "agent" && event.actor_id !== null ? `agent ${state.agents.get(event.actor_id)?.name ?? event.actor_id}` : event.actor_type}`}
                  {event.note ? <q>{event.note}</q> : null}
                </li>
              ))}
            </ol>
          </section>
          {details.occurrences.length === 0 ? null : (
            <section aria-labelledby="occurrences-heading">
              <h3 id="occurrences-heading">Occurrences</h3>
              <ol class="events">
                {details.occurrences.map((occurrence) => (
                  <li key={occurrence.id}>
                    <time dateTime={occurrence.received_at}>{when(occurrence.received_at)}</time>
                    {` ${occurrence.release ?? "no release"} · ${occurrence.environment ?? "no environment"}`}
                    {occurrence.trace_id ? ` · trace ${occurrence.trace_id}` : ""}
                  </li>
                ))}
              </ol>
            </section>
          )}
          {details.analyses === undefined ? null : (
            <section aria-labelledby="analyses-heading" data-section="analyses">
              <h3 id="analyses-heading">Analysis</h3>
              {typeof details.analyses === "string" ? <p class="error">{details.analyses}</p> : details.analyses.length === 0 ? <p class="empty">No analysis yet.</p> : (
                <ol class="events">
                  {details.analyses.map((analysis) => (
                    <li key={analysis.id}>
                      <strong>{analysis.status}</strong> {analysis.provider ?? ""} {analysis.classification ? `· ${analysis.classification}` : ""}
                      {analysis.risk ? ` · risk ${analysis.risk}` : ""}
                      {typeof analysis.confidence === "number" ? ` · confidence ${Math.round(analysis.confidence * 100)}%` : ""}
                      {analysis.root_cause ? <p>{analysis.root_cause}</p> : null}
                      {analysis.suggested_fix?.summary ? <p>Suggested fix: {analysis.suggested_fix.summary}</p> : null}
                      {analysis.error ? <p class="error">{analysis.error}</p> : null}
                    </li>
                  ))}
                </ol>
              )}
            </section>
          )}
        </>
      )}
    </Dialog>
  )
}
