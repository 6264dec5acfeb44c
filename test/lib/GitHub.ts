import { createHmac, randomUUID } from "node:crypto"

/** The `GITHUB_WEBHOOK_SECRET` test services are started with. */
export const webhookSecret = "bugbots-test-webhook-secret"

/** `X-Hub-Signature-256` as GitHub computes it (independently of the service's own verifier). */
export const sign = (body: string, secret = webhookSecret) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`

export interface DeliverOptions {
  readonly id?: string
  readonly secret?: string
  /** Replaces the computed headers (a header set to undefined is left out). */
  readonly headers?: Record<string, string | undefined>
  /** Sent as is instead of `JSON.stringify(payload)`. */
  readonly rawBody?: string
}

/** POSTs a signed delivery to `/api/webhooks/github`, as GitHub does. */
export const deliver = async (baseUrl: string, event: string, payload: unknown, options: DeliverOptions = {}) => {
  const body = options.rawBody ?? JSON.stringify(payload)
  const id = options.id ?? randomUUID()
  const headers: Record<string, string | undefined> = {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/test",
    "x-github-event": event,
    "x-github-delivery": id,
    "x-hub-signature-256": sign(body, options.secret),
    ...options.headers
  }
  const started = performance.now()
  const response = await fetch(`${baseUrl}/api/webhooks/github`, {
    method: "POST",
    headers: Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    body
  })
  const text = await response.text()
  return {
    id,
    status: response.status,
    ms: performance.now() - started,
    headers: response.headers,
    body: text.length > 0 ? JSON.parse(text) : null
  }
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export const eventually = async <A>(check: () => Promise<A | undefined | false>, timeoutMs = 5000, what = "condition"): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await Bun.sleep(25)
  }
}

let sequence = 0

export interface IssueFields {
  readonly issueId?: number
  readonly number?: number
  readonly title?: string
  readonly body?: string | null
  readonly labels?: ReadonlyArray<string>
  readonly state?: "open" | "closed"
  readonly updatedAt?: string
  readonly repoId?: number
  readonly repoName?: string
  readonly ownerId?: number
  readonly ownerLogin?: string
  readonly installationId?: number
}

/** A fresh GitHub id, unique within a test run. */
export const githubId = () => 700_000_000 + Math.floor(Math.random() * 100_000_000) + sequence++

/** An `issues` event payload shaped like GitHub's, with the fields bugbots reads. */
export const issuesPayload = (action: string, fields: IssueFields = {}) => {
  const ownerId = fields.ownerId ?? 5_000_001
  const ownerLogin = fields.ownerLogin ?? "octo-org"
  const repoName = fields.repoName ?? "octo-repo"
  const issueNumber = fields.number ?? 1
  return {
    action,
    issue: {
      id: fields.issueId ?? 900_000_001,
      number: issueNumber,
      title: fields.title ?? "Something is broken",
      body: fields.body === undefined ? "Steps to reproduce" : fields.body,
      state: fields.state ?? "open",
      labels: (fields.labels ?? []).map((name, i) => ({ id: i + 1, name, color: "ededed", default: false })),
      html_url: `https://github.com/${ownerLogin}/${repoName}/issues/${issueNumber}`,
      updated_at: fields.updatedAt ?? new Date().toISOString(),
      user: { login: "reporter", id: 42 }
    },
    repository: {
      id: fields.repoId ?? 600_000_001,
      name: repoName,
      full_name: `${ownerLogin}/${repoName}`,
      owner: { login: ownerLogin, id: ownerId, type: "Organization" }
    },
    sender: { login: "reporter", id: 42 },
    ...(fields.installationId === undefined ? {} : { installation: { id: fields.installationId, node_id: "MDIz" } })
  }
}

/** A stored delivery (a `github.delivery` job) read straight from the database, in the admin endpoints' terms. */
export const deliveryRow = async (sql: InstanceType<typeof Bun.SQL>, deliveryId: string) => {
  const [row] = await sql`
    select meta ->> 'delivery_id' as id, meta ->> 'event' as event, meta ->> 'action' as action,
           case status when 'running' then 'processing' when 'done' then 'processed' else status end as status,
           attempts, run_at as next_attempt_at, lease_token, last_error, correlation_id as request_id, finished_at as processed_at, payload
    from jobs where kind = 'github.delivery' and meta ->> 'delivery_id' = ${deliveryId}`
  return row as Record<string, any> | undefined
}

/**
 * Holds an issue's deliveries mid-processing: every delivery of an issue takes this transaction-level
 * advisory lock first (`Bugs.syncFromUpstream`), so while a session holds it a worker that claimed one
 * waits inside its transaction. Resolves to the release.
 */
export const holdIssue = async (databaseUrl: string, issueId: number) => {
  const sql = new Bun.SQL(databaseUrl, { max: 1 })
  await sql`select pg_advisory_lock(hashtextextended(${`github-issue:${issueId}`}, 0))`
  return async () => {
    await sql`select pg_advisory_unlock(hashtextextended(${`github-issue:${issueId}`}, 0))`
    await sql.close()
  }
}
