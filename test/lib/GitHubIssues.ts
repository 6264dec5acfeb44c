import { createHash, randomUUID } from "node:crypto"
import { sign } from "./GitHub.js"
import { type GitHubApi, pageLinks } from "./GitHubApi.js"

/**
 * What the reconciler and missed-delivery recovery read from GitHub, added to the shared stand-in
 * (`GitHubApi.ts`) with its `route`: a repository's issues (`GET /repos/{owner}/{repo}/issues` with
 * `state`, `since`, `sort`, `direction`, `per_page`/`page`, `Link` paging, pull requests among them,
 * an `ETag` per answer and `304` to a matching `If-None-Match`), and the App's hook deliveries
 * (`GET /app/hook/deliveries`, newest first, cursor pages; `POST …/{id}/attempts` redelivers the
 * delivery's payload, signed, to the receiver GitHub would send it to).
 */

export interface StoredIssue {
  id: number
  number: number
  title: string
  body: string | null
  state: "open" | "closed"
  labels: Array<{ id: number; name: string; color: string; default: boolean }>
  updated_at: string
  pull_request?: { url: string }
}

export interface StoredDelivery {
  readonly id: number
  readonly guid: string
  readonly delivered_at: string
  readonly redelivery: boolean
  readonly status: string
  readonly status_code: number
  readonly event: string
  readonly action: string | null
  readonly installation_id: number | null
  readonly repository_id: number | null
  readonly payload: unknown
}

/** GitHub's ETags are weak validators of the answer's content. */
const etagOf = (body: string) => `W/"${createHash("sha1").update(body).digest("hex")}"`

export const withIssues = (api: GitHubApi, options: { readonly webhookUrl?: string; readonly webhookSecret?: string } = {}) => {
  const issues = new Map<string, Array<StoredIssue>>()
  const deliveries: Array<StoredDelivery> = []
  let nextId = 2_000_000
  /** GitHub's clock: every change is a second later than the last, so `since` is exact in tests. */
  let clock = Date.parse("2026-01-01T00:00:00Z")
  const tick = () => new Date((clock += 1000)).toISOString().replace(/\.\d{3}Z$/, "Z")

  const listOf = (repoFullName: string) => {
    let list = issues.get(repoFullName)
    if (list === undefined) issues.set(repoFullName, (list = []))
    return list
  }

  api.route("GET", "/repos/:owner/:repo/issues", ({ params, url, headers }) => {
    const state = url.searchParams.get("state") ?? "open"
    const since = url.searchParams.get("since")
    const direction = url.searchParams.get("direction") ?? "desc"
    const perPage = Math.min(Number(url.searchParams.get("per_page") ?? 30), 100)
    const page = Math.max(1, Number(url.searchParams.get("page") ?? 1))
    const matching = listOf(`${params.owner}/${params.repo}`)
      .filter((i) => state === "all" || i.state === state)
      .filter((i) => since === null || Date.parse(i.updated_at) >= Date.parse(since))
      .sort((a, b) => (direction === "asc" ? 1 : -1) * (Date.parse(a.updated_at) - Date.parse(b.updated_at) || a.number - b.number))
    const last = Math.max(1, Math.ceil(matching.length / perPage))
    const body = matching.slice((page - 1) * perPage, page * perPage)
    const etag = etagOf(JSON.stringify(body))
    if (headers.get("if-none-match") === etag) return { status: 304, headers: { etag } }
    const links = pageLinks(url, page, last)
    return { status: 200, body, headers: { etag, ...(links.length > 0 ? { link: links.join(", ") } : {}) } }
  })

  api.route("GET", "/app/hook/deliveries", ({ url }) => {
    const perPage = Math.min(Number(url.searchParams.get("per_page") ?? 30), 100)
    const newestFirst = [...deliveries].sort((a, b) => b.id - a.id)
    const cursor = url.searchParams.get("cursor")
    const start = cursor === null ? 0 : newestFirst.findIndex((d) => d.id < Number(cursor))
    const page = start < 0 ? [] : newestFirst.slice(start, start + perPage)
    const rest = start < 0 ? [] : newestFirst.slice(start + perPage)
    const headers: Record<string, string> = {}
    if (rest.length > 0) {
      const next = new URL(url)
      next.searchParams.set("cursor", String(page[page.length - 1].id))
      headers.link = `<${next.href}>; rel="next"`
    }
    return { status: 200, body: page.map(({ payload: _, ...summary }) => ({ ...summary, duration: 0.1 })), headers }
  })

  api.route("POST", "/app/hook/deliveries/:id/attempts", async ({ params }) => {
    const original = deliveries.find((d) => d.id === Number(params.id))
    if (original === undefined) return { status: 404, body: { message: "Not Found" } }
    const redelivery = { ...original, id: nextId++, delivered_at: new Date().toISOString(), redelivery: true }
    if (options.webhookUrl !== undefined) {
      const body = JSON.stringify(original.payload)
      const answer = await fetch(options.webhookUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": original.event,
          "x-github-delivery": original.guid,
          "x-hub-signature-256": sign(body, options.webhookSecret)
        },
        body
      })
      deliveries.push({ ...redelivery, status: answer.ok ? "OK" : `${answer.status}`, status_code: answer.status })
    }
    return { status: 202, body: {} }
  })

  return {
    /** Adds an issue (or a pull request, which the issues list includes) at the next tick of GitHub's clock. */
    addIssue: (repoFullName: string, fields: Partial<Omit<StoredIssue, "id" | "number" | "updated_at">> & { number?: number } = {}) => {
      const list = listOf(repoFullName)
      const number = fields.number ?? list.length + 1
      const issue: StoredIssue = {
        id: nextId++,
        number,
        title: fields.title ?? `Issue ${number}`,
        body: fields.body ?? null,
        state: fields.state ?? "open",
        labels: fields.labels ?? [],
        updated_at: tick(),
        ...(fields.pull_request === undefined ? {} : { pull_request: fields.pull_request })
      }
      list.push(issue)
      return issue
    },
    /** Changes an issue, which moves its `updated_at` on. */
    updateIssue: (repoFullName: string, number: number, change: Partial<Pick<StoredIssue, "title" | "body" | "state" | "labels">>) => {
      const issue = listOf(repoFullName).find((i) => i.number === number)
      if (issue === undefined) throw new Error(`no issue ${repoFullName}#${number}`)
      Object.assign(issue, change, { updated_at: tick() })
      return issue
    },
    issues: (repoFullName: string) => listOf(repoFullName),
    /** A delivery GitHub made (or failed to make) of `payload`, `minutesAgo` minutes ago. */
    addDelivery: (event: string, payload: { action?: string }, fields: { statusCode?: number; minutesAgo?: number; guid?: string } = {}) => {
      const statusCode = fields.statusCode ?? 200
      const delivery: StoredDelivery = {
        id: nextId++,
        guid: fields.guid ?? randomUUID(),
        delivered_at: new Date(Date.now() - (fields.minutesAgo ?? 1) * 60_000).toISOString(),
        redelivery: false,
        status: statusCode < 300 ? "OK" : statusCode === 0 ? "Timed out" : `Invalid HTTP Response: ${statusCode}`,
        status_code: statusCode,
        event,
        action: payload.action ?? null,
        installation_id: null,
        repository_id: null,
        payload
      }
      deliveries.push(delivery)
      return delivery
    },
    deliveries: () => deliveries
  }
}
