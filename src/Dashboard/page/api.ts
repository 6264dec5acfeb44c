/** The REST API as the page uses it: bearer token, JSON in and out, the contract's error envelope. */

export interface Page<T> {
  readonly items: ReadonlyArray<T>
  readonly next_cursor: string | null
}

export type Status = "open" | "triaged" | "assigned" | "in_progress" | "awaiting_verification" | "resolved" | "closed"
export type Severity = "critical" | "high" | "medium" | "low"

export const statuses: ReadonlyArray<Status> = ["open", "triaged", "assigned", "in_progress", "awaiting_verification", "resolved", "closed"]
export const severities: ReadonlyArray<Severity> = ["critical", "high", "medium", "low"]
export const statusLabel = (status: Status) => status.replace(/_/g, " ")

export interface Bug {
  readonly id: string
  readonly village_id: string
  readonly repo_id: string
  readonly provider: string
  readonly issue_number: number | null
  readonly title: string
  readonly description?: string | null
  readonly status: Status
  readonly severity: Severity | null
  readonly category: string | null
  readonly assigned_agent_id: string | null
  readonly source: string
  readonly version: number
  readonly created_at: string
  readonly updated_at: string
  readonly resolved_at: string | null
  readonly occurrences?: number | null
  readonly last_seen?: string | null
  readonly sla_due_at?: string | null
  readonly [field: string]: unknown
}

export interface Agent {
  readonly id: string
  readonly village_id: string
  readonly name: string
  readonly kind: string | null
  readonly state: "active" | "paused"
  readonly updated_at: string
}

export interface Repo {
  readonly id: string
  readonly village_id: string
  readonly full_name: string
}

export interface Village {
  readonly id: string
  readonly name: string
}

export interface Me {
  readonly type: "user" | "agent"
  readonly id: string
  readonly login?: string
  readonly name?: string
  readonly is_superuser: boolean
  readonly memberships: ReadonlyArray<{ readonly village_id: string; readonly role: string }>
}

export interface BugEvent {
  readonly id: string
  readonly kind: string
  readonly actor_type: string
  readonly actor_id: string | null
  readonly from_status: Status | null
  readonly to_status: Status | null
  readonly note: string | null
  readonly data: Record<string, unknown>
  readonly created_at: string
}

export interface Occurrence {
  readonly id: string
  readonly event_id: string
  readonly received_at: string
  readonly release: string | null
  readonly environment: string | null
  readonly trace_id: string | null
  readonly request_id: string | null
}

export interface Analysis {
  readonly id: string
  readonly status: string
  readonly provider?: string | null
  readonly model?: string | null
  readonly classification?: string | null
  readonly root_cause?: string | null
  readonly confidence?: number | null
  readonly risk?: string | null
  readonly suggested_fix?: { readonly summary?: string; readonly patch?: string } | null
  readonly error?: string | null
  readonly created_at: string
}

export interface WorkStreamEvent {
  readonly id: string
  readonly session_id: string
  readonly agent_id: string
  readonly bug_id: string | null
  readonly type: string
  readonly message: string | null
  readonly created_at: string
}

/** A refusal or failure, with the envelope's code and message (contract §2). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter: number | undefined
  ) {
    super(message)
  }
}

const explanations: Record<string, string> = {
  UNAUTHENTICATED: "Your token was not accepted (unknown or revoked). Sign in again with a valid token.",
  FORBIDDEN: "Refused: your role in this village does not allow this action.",
  NOT_FOUND: "Not found: it does not exist, or you cannot see it.",
  INVALID_TRANSITION: "That status change is not allowed from the bug's current status.",
  AGENT_REQUIRED: "That status needs an agent: assign one first.",
  AGENT_NOT_IN_VILLAGE: "That agent belongs to another village.",
  VERSION_CONFLICT: "Someone changed this bug meanwhile; the drawer shows the latest version. Try again.",
  VALIDATION_FAILED: "The request was not valid.",
  AGENT_PAUSED: "The agent is paused.",
  RATE_LIMITED: "Too many requests.",
  SERVICE_UNAVAILABLE: "The service is unavailable for a moment.",
  NETWORK: "The service could not be reached."
}

/** What to tell a person about a failure: the meaning of its code, then the service's own message. */
export const inWords = (error: unknown) => {
  if (!(error instanceof ApiError)) return `Something went wrong: ${String(error)}`
  const meaning = explanations[error.code] ?? `The service answered ${error.status} ${error.code}.`
  const retry = error.retryAfter === undefined ? "" : ` Try again in ${error.retryAfter} s.`
  return `${meaning}${retry} (${error.message})`
}

export type Api = ReturnType<typeof makeApi>

export const makeApi = (token: string) => {
  const request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let response: Response
    try {
      response = await fetch(path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" })
        },
        body: body === undefined ? undefined : JSON.stringify(body)
      })
    } catch (cause) {
      throw new ApiError(0, "NETWORK", String(cause), undefined)
    }
    const text = await response.text()
    let json: unknown = null
    try {
      json = text.length > 0 ? JSON.parse(text) : null
    } catch {
      json = null
    }
    if (!response.ok) {
      const retryAfter = Number(response.headers.get("retry-after"))
      const envelope = (json as { readonly error?: { readonly code?: string; readonly message?: string } } | null)?.error
      throw new ApiError(
        response.status,
        envelope?.code ?? `HTTP_${response.status}`,
        envelope?.message ?? (response.statusText || text.slice(0, 200)),
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined
      )
    }
    return json as T
  }

  /** Every page of a list, `onPage` told as each arrives. */
  const all = async <T>(path: string, onPage?: (items: ReadonlyArray<T>) => void): Promise<Array<T>> => {
    const items: Array<T> = []
    let cursor: string | null = null
    do {
      const separator = path.includes("?") ? "&" : "?"
      const page: Page<T> = await request<Page<T>>("GET", `${path}${separator}limit=200${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`)
      items.push(...page.items)
      onPage?.(page.items)
      cursor = page.next_cursor
    } while (cursor !== null)
    return items
  }

  return {
    me: () => request<Me>("GET", "/api/me"),
    villages: () => all<Village>("/api/villages"),
    village: (id: string) => request<Village>("GET", `/api/villages/${id}`),
    repos: (villageId: string) => all<Repo>(`/api/villages/${villageId}/repos`),
    agents: (villageId: string) => all<Agent>(`/api/villages/${villageId}/agents`),
    bugs: (villageId: string, onPage: (items: ReadonlyArray<Bug>) => void) => all<Bug>(`/api/villages/${villageId}/bugs`, onPage),
    bug: (id: string) => request<Bug>("GET", `/api/bugs/${id}`),
    events: (id: string) => request<Page<BugEvent>>("GET", `/api/bugs/${id}/events?limit=200`),
    occurrences: (id: string) => request<Page<Occurrence>>("GET", `/api/bugs/${id}/occurrences?limit=20`),
    analyses: (id: string) => request<Page<Analysis> | ReadonlyArray<Analysis>>("GET", `/api/bugs/${id}/analyses`),
    assign: (id: string, agentId: string | null) => request<Bug>("POST", `/api/bugs/${id}/assign`, { agent_id: agentId }),
    setStatus: (id: string, status: Status, reason: string, expectedVersion: number) =>
      request<Bug>("PUT", `/api/bugs/${id}/status`, { status, expected_version: expectedVersion, ...(reason === "" ? {} : { reason }) }),
    note: (id: string, body: string) => request<BugEvent>("POST", `/api/bugs/${id}/notes`, { body }),
    setAgentState: (id: string, state: "active" | "paused") => request<Agent>("PUT", `/api/agents/${id}/state`, { state })
  }
}
