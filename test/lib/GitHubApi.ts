import errorsFixture from "@octokit/fixtures/scenarios/api.github.com/errors/normalized-fixture.json"
import { createPublicKey, createVerify, generateKeyPairSync, randomBytes } from "node:crypto"

/**
 * A stand-in for the part of GitHub's REST API that bugbots calls, served over real HTTP on an
 * ephemeral port: the App's JWT and installation tokens (checked like GitHub checks them), issue
 * comments (paged with `Link`), pull requests, and the rate-limit headers of every answer. Shapes
 * follow GitHub's documentation, and `@octokit/fixtures`' recordings where they cover the endpoint.
 * It records every call and can be told to fail. More endpoints are added with `route`.
 */

export interface Call {
  readonly method: string
  readonly path: string
  readonly query: Record<string, string>
  readonly body: unknown
  readonly authorization: string | null
  readonly status: number
  /** When it was answered (ms since the epoch). */
  readonly at: number
}

export interface Comment {
  id: number
  node_id: string
  url: string
  html_url: string
  issue_url: string
  body: string
  user: { login: string; id: number; type: "User" | "Bot" }
  performed_via_github_app: { id: number; slug: string; name: string } | null
  author_association: string
  created_at: string
  updated_at: string
}

export interface PullRequest {
  number: number
  state: "open" | "closed"
  draft: boolean
  title: string
  user: { login: string; id: number; type: string }
}

/** A failure to answer with instead of the endpoint's answer. */
export interface Failure {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: unknown
}

export interface Request {
  readonly method: string
  readonly url: URL
  readonly params: Record<string, string>
  readonly body: unknown
  readonly headers: Headers
  readonly installationId: number | null
}
export type Handler = (request: Request) => { status: number; body?: unknown; headers?: Record<string, string> } | Promise<{ status: number; body?: unknown; headers?: Record<string, string> }>

/** The 422 GitHub sent in the recorded `errors` scenario (a label with an invalid color). */
const recorded422 = (errorsFixture as ReadonlyArray<{ status: number; response: unknown }>).find((r) => r.status === 422)!.response

/** The failures tests ask for, as GitHub sends them. */
export const failures = {
  serverError: { status: 500, body: { message: "Server Error" } },
  unprocessable: { status: 422, body: recorded422 },
  notFound: { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } },
  tooManyRequests: (retryAfter: number): Failure => ({
    status: 429,
    headers: { "retry-after": String(retryAfter) },
    body: { message: "Too Many Requests" }
  }),
  secondaryRateLimit: (retryAfter: number): Failure => ({
    status: 403,
    headers: { "retry-after": String(retryAfter) },
    body: {
      message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
      documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
    }
  }),
  primaryRateLimit: (resetInSeconds: number): Failure => ({
    status: 403,
    headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + resetInSeconds) },
    body: { message: "API rate limit exceeded for installation ID 1.", documentation_url: "https://docs.github.com/rest" }
  }),
  forbidden: { status: 403, body: { message: "Resource not accessible by integration", documentation_url: "https://docs.github.com/rest" } }
} as const

/** GitHub's `Link` relations for page `page` of `last`, as URLs of `url` with another `page`. */
export const pageLinks = (url: URL, page: number, last: number) => {
  const link = (p: number, rel: string) => {
    const to = new URL(url)
    to.searchParams.set("page", String(p))
    return `<${to.href}>; rel="${rel}"`
  }
  return [...(page < last ? [link(page + 1, "next"), link(last, "last")] : []), ...(page > 1 ? [link(1, "first"), link(page - 1, "prev")] : [])]
}

const base64url = (text: string) => Buffer.from(text, "base64url").toString("utf8")

export const startGitHubApi = async (options: { readonly appId?: number; readonly slug?: string; readonly perPageMax?: number } = {}) => {
  const appId = options.appId ?? 4242
  const slug = options.slug ?? "bugbots-test"
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 })
  const privateKeyPem = privateKey.export({ type: "pkcs1", format: "pem" }).toString()
  const verifyKey = createPublicKey(publicKey.export({ type: "spki", format: "pem" }))

  const calls: Array<Call> = []
  const tokens = new Map<string, { installationId: number; expiresAt: number }>()
  const comments = new Map<string, Array<Comment>>()
  const pulls = new Map<string, PullRequest>()
  const planned: Array<{ method: string; path: RegExp; failure: Failure; times: number }> = []
  const routes: Array<{ method: string; pattern: RegExp; keys: Array<string>; handler: Handler }> = []
  let nextId = 1_000_000
  let remaining = 5000
  const resetAt = Math.floor(Date.now() / 1000) + 3600

  const issueKey = (owner: string, repo: string, number: string | number) => `${owner}/${repo}#${number}`

  /** Adds an endpoint: `path` with `:name` segments. Later routes do not shadow earlier ones. */
  const route = (method: string, path: string, handler: Handler) => {
    const keys: Array<string> = []
    const pattern = new RegExp(`^${path.replace(/:([a-z_]+)/g, (_, key: string) => (keys.push(key), "([^/]+)"))}$`)
    routes.push({ method, pattern, keys, handler })
  }

  /** A JWT signed RS256 by the App's key, with `iss` the App id, not expired, at most 10 minutes long. */
  const appJwtValid = (jwt: string) => {
    const [header, payload, signature] = jwt.split(".")
    if (!header || !payload || !signature) return false
    const verifier = createVerify("RSA-SHA256")
    verifier.update(`${header}.${payload}`)
    if (!verifier.verify(verifyKey, Buffer.from(signature, "base64url"))) return false
    const claims = JSON.parse(base64url(payload)) as { iss?: unknown; exp?: number; iat?: number }
    const now = Date.now() / 1000
    return String(claims.iss) === String(appId) && (claims.exp ?? 0) > now && (claims.exp ?? 0) - (claims.iat ?? 0) <= 660
  }

  const comment = (owner: string, repo: string, number: number, body: string, user: Comment["user"], viaApp: boolean): Comment => {
    const id = nextId++
    const now = new Date().toISOString()
    return {
      id,
      node_id: Buffer.from(`IssueComment${id}`).toString("base64"),
      url: `https://api.github.com/repos/${owner}/${repo}/issues/comments/${id}`,
      html_url: `https://github.com/${owner}/${repo}/issues/${number}#issuecomment-${id}`,
      issue_url: `https://api.github.com/repos/${owner}/${repo}/issues/${number}`,
      body,
      user,
      performed_via_github_app: viaApp ? { id: appId, slug, name: slug } : null,
      author_association: viaApp ? "NONE" : "MEMBER",
      created_at: now,
      updated_at: now
    }
  }
  const botUser = { login: `${slug}[bot]`, id: 9_000_000 + appId, type: "Bot" as const }

  const pullOf = (owner: string, repo: string, number: number) => {
    const key = issueKey(owner, repo, number)
    let pull = pulls.get(key)
    if (pull === undefined) {
      pull = { number, state: "open", draft: false, title: `Pull request ${number}`, user: { login: "contributor", id: 77, type: "User" } }
      pulls.set(key, pull)
    }
    return pull
  }
  const pullJson = (owner: string, repo: string, pull: PullRequest) => ({
    url: `https://api.github.com/repos/${owner}/${repo}/pulls/${pull.number}`,
    html_url: `https://github.com/${owner}/${repo}/pull/${pull.number}`,
    number: pull.number,
    state: pull.state,
    draft: pull.draft,
    title: pull.title,
    user: pull.user,
    closed_at: pull.state === "closed" ? new Date().toISOString() : null
  })

  route("GET", "/app", () => ({
    status: 200,
    body: { id: appId, slug, name: slug, owner: { login: "bugbots", id: 1, type: "Organization" }, permissions: { issues: "write", pull_requests: "write" } }
  }))
  route("POST", "/app/installations/:installation_id/access_tokens", ({ params }) => {
    const token = `ghs_${randomBytes(18).toString("hex")}`
    const expiresAt = Date.now() + 3600_000
    tokens.set(token, { installationId: Number(params.installation_id), expiresAt })
    return {
      status: 201,
      body: { token, expires_at: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z"), permissions: { issues: "write", pull_requests: "write" }, repository_selection: "all" }
    }
  })
  route("GET", "/repos/:owner/:repo/issues/:number/comments", ({ params, url }) => {
    const all = comments.get(issueKey(params.owner, params.repo, params.number)) ?? []
    const perPage = Math.min(Number(url.searchParams.get("per_page") ?? 30), options.perPageMax ?? 100)
    const page = Math.max(1, Number(url.searchParams.get("page") ?? 1))
    const last = Math.max(1, Math.ceil(all.length / perPage))
    const paged = new URL(url)
    paged.searchParams.set("per_page", String(perPage))
    const links = pageLinks(paged, page, last)
    return {
      status: 200,
      body: all.slice((page - 1) * perPage, page * perPage),
      headers: links.length > 0 ? { link: links.join(", ") } : ({} as Record<string, string>)
    }
  })
  route("POST", "/repos/:owner/:repo/issues/:number/comments", ({ params, body }) => {
    const text = (body as { body?: unknown })?.body
    if (typeof text !== "string" || text.length === 0) return { status: 422, body: recorded422 }
    const created = comment(params.owner, params.repo, Number(params.number), text, botUser, true)
    const key = issueKey(params.owner, params.repo, params.number)
    comments.set(key, [...(comments.get(key) ?? []), created])
    return { status: 201, body: created, headers: { location: created.url } }
  })
  route("PATCH", "/repos/:owner/:repo/issues/comments/:id", ({ params, body }) => {
    for (const list of comments.values()) {
      const found = list.find((c) => c.id === Number(params.id))
      if (found === undefined) continue
      if (found.performed_via_github_app?.id !== appId) return failures.forbidden
      found.body = String((body as { body?: unknown })?.body ?? found.body)
      found.updated_at = new Date().toISOString()
      return { status: 200, body: found }
    }
    return failures.notFound
  })
  route("GET", "/repos/:owner/:repo/pulls/:number", ({ params }) => ({
    status: 200,
    body: pullJson(params.owner, params.repo, pullOf(params.owner, params.repo, Number(params.number)))
  }))
  route("PATCH", "/repos/:owner/:repo/pulls/:number", ({ params, body }) => {
    const pull = pullOf(params.owner, params.repo, Number(params.number))
    const state = (body as { state?: unknown })?.state
    if (state === "open" || state === "closed") pull.state = state
    return { status: 200, body: pullJson(params.owner, params.repo, pull) }
  })

  const rateHeaders = () => ({
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": String(Math.max(0, remaining)),
    "x-ratelimit-used": String(5000 - remaining),
    "x-ratelimit-reset": String(resetAt),
    "x-ratelimit-resource": "core",
    "x-github-media-type": "github.v3; format=json",
    "x-github-request-id": randomBytes(8).toString("hex").toUpperCase()
  })
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(body === undefined || status === 204 ? null : JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json; charset=utf-8", ...rateHeaders(), ...headers }
    })

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: async (req) => {
      const url = new URL(req.url)
      const text = await req.text()
      const body: unknown = text.length > 0 ? JSON.parse(text) : undefined
      const authorization = req.headers.get("authorization")
      const record = (status: number) =>
        calls.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), body, authorization, status, at: Date.now() })
      remaining--

      const plan = planned.find((p) => p.times > 0 && p.method === req.method && p.path.test(url.pathname))
      if (plan !== undefined) {
        plan.times--
        record(plan.failure.status)
        return answer(plan.failure.status, plan.failure.body ?? { message: "failure" }, plan.failure.headers)
      }

      const match = routes
        .filter((r) => r.method === req.method)
        .map((r) => ({ r, m: r.pattern.exec(url.pathname) }))
        .find((x) => x.m !== null)
      if (match === undefined) {
        record(404)
        return answer(404, failures.notFound.body)
      }
      // App endpoints take the App's JWT; everything else an installation token it issued.
      const bearer = /^(?:bearer|token) (.+)$/i.exec(authorization ?? "")?.[1]
      let installationId: number | null = null
      if (url.pathname.startsWith("/app")) {
        if (bearer === undefined || !appJwtValid(bearer)) {
          record(401)
          return answer(401, { message: "A JSON web token could not be decoded", documentation_url: "https://docs.github.com/rest" })
        }
      } else {
        const token = bearer === undefined ? undefined : tokens.get(bearer)
        if (token === undefined || token.expiresAt < Date.now()) {
          record(401)
          return answer(401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" })
        }
        installationId = token.installationId
      }
      const params = Object.fromEntries(match.r.keys.map((key, i) => [key, decodeURIComponent(match.m![i + 1])]))
      const result = await match.r.handler({ method: req.method, url, params, body, headers: req.headers, installationId })
      record(result.status)
      return answer(result.status, result.body, result.headers)
    }
  })
  const url = `http://127.0.0.1:${server.port}`

  return {
    url,
    appId,
    slug,
    privateKeyPem,
    calls,
    route,
    /** The next `times` calls of `method` to a path matching `path` answer `failure` instead. */
    fail: (method: string, path: RegExp, failure: Failure, times = 1) => {
      planned.push({ method, path, failure, times })
    },
    /** The comments of an issue or pull request, oldest first. */
    comments: (repoFullName: string, number: number) => comments.get(`${repoFullName}#${number}`) ?? [],
    /** A comment written by a person (not the App), e.g. one quoting our marker. */
    addHumanComment: (repoFullName: string, number: number, body: string, login = "someone") => {
      const [owner, repo] = repoFullName.split("/")
      const created = comment(owner, repo, number, body, { login, id: 31337, type: "User" }, false)
      const key = `${repoFullName}#${number}`
      comments.set(key, [...(comments.get(key) ?? []), created])
      return created
    },
    pull: (repoFullName: string, number: number) => {
      const [owner, repo] = repoFullName.split("/")
      return pullOf(owner, repo, number)
    },
    /** Calls that reached an endpoint (or a planned failure), in order. */
    callsTo: (method: string, path: RegExp) => calls.filter((c) => c.method === method && path.test(c.path)),
    stop: () => server.stop(true)
  }
}
export type GitHubApi = Awaited<ReturnType<typeof startGitHubApi>>

/** The service's settings for the App against this stand-in. */
export const appEnv = (api: GitHubApi): Record<string, string> => ({
  GITHUB_APP_ID: String(api.appId),
  GITHUB_APP_PRIVATE_KEY: api.privateKeyPem,
  GITHUB_API_URL: api.url,
  BUGBOTS_GITHUB_WRITE_INTERVAL: "0 millis"
})
