import { createHmac, randomUUID } from "node:crypto"

/** The `BUGBOTS_INTERNAL_SECRET` test services are started with. */
export const internalSecret = "bugbots-test-internal-secret"

/** The v2 protocol's signature, computed here independently of the service's own code. */
export const internalSignature = (body: string, timestamp: string, secret = internalSecret) =>
  `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`

export interface SignedOptions {
  readonly secret?: string
  /** Unix seconds; default now. */
  readonly timestamp?: number
  /** Replaces the computed headers (undefined leaves one out). */
  readonly headers?: Record<string, string | undefined>
}

/** POSTs `body` to the internal v2 protocol, signed as a bot worker signs it. */
export const signedPost = async (baseUrl: string, path: string, body: unknown, options: SignedOptions = {}) => {
  const text = JSON.stringify(body)
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000))
  const headers: Record<string, string | undefined> = {
    "content-type": "application/json",
    "x-bugbots-timestamp": timestamp,
    "x-bugbots-signature": internalSignature(text, timestamp, options.secret),
    ...options.headers
  }
  const response = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined)),
    body: text
  })
  const raw = await response.text()
  return { status: response.status, headers: response.headers, body: raw.length > 0 ? JSON.parse(raw) : null }
}

export interface ActionFields {
  readonly type?: "UPSERT_ISSUE_COMMENT" | "UPSERT_PR_COMMENT" | "CLOSE_PR_WITH_COMMENT"
  readonly installation_id?: number
  readonly repo_full_name?: string
  readonly number?: number
  readonly marker?: string
  readonly body?: string
}

/**
 * Puts a bot action in the outbox the way the service stores one (a `github.action` job), for
 * tests of the protocol and executor apart from what decides actions.
 */
export const enqueueAction = async (sql: InstanceType<typeof Bun.SQL>, fields: ActionFields = {}, maxAttempts = 8) => {
  const payload = {
    type: fields.type ?? "UPSERT_PR_COMMENT",
    installation_id: fields.installation_id ?? 1,
    repo_full_name: fields.repo_full_name ?? "octo-org/octo-repo",
    number: fields.number ?? 1,
    // A marker of its own unless asked: actions on one comment (repo, number, marker) run one at a time.
    marker: fields.marker ?? `t-${randomUUID().slice(0, 8)}`,
    body: fields.body ?? `hello ${randomUUID()}`
  }
  const [row] = await sql`
    insert into jobs (kind, key, payload, meta, status, max_attempts, run_at)
    values ('github.action', null, ${JSON.stringify(payload)}::text::jsonb,
            ${JSON.stringify({ serial: `${payload.repo_full_name}#${payload.number}:${payload.marker}` })}::text::jsonb, 'pending', ${maxAttempts}, now())
    returning id`
  await sql`select pg_notify('bugbots_jobs', 'github.action')`
  return { id: row.id as string, payload }
}

/** An action's row, in the API's terms. */
export const actionRow = async (sql: InstanceType<typeof Bun.SQL>, id: string) => {
  const [row] = await sql`
    select id, status, attempts, max_attempts, run_at, lease_token, lease_expires_at, last_error, result from jobs where id = ${id}`
  return row as Record<string, any> | undefined
}
