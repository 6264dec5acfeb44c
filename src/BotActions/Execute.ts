import { Effect } from "effect"
import type { BotActionPayload } from "../Domain/BotAction.js"
import { type GitHubApp, type HttpError, isRateLimited, retryAfterOf } from "../GitHub/Client.js"

/**
 * Executes one bot action on GitHub (contract §10), from its payload alone: what an in-process
 * executor and an external worker (examples/bot-worker.ts) both run. Idempotent: running it twice
 * leaves one comment, and closing a closed pull request is done.
 */

/** The hidden marker that names a comment of ours. */
export const markerText = (marker: string) => `<!-- bugbots:${marker} -->`

/** The comment's full text: the marker first (unless the body carries it already), then the body. */
export const commentBody = (action: Pick<BotActionPayload, "marker" | "body">) => {
  const marker = markerText(action.marker)
  return action.body.includes(marker) ? action.body : `${marker}\n${action.body}`
}

/** What an attempt came to, in the protocol's terms. */
export type Execution =
  | { readonly outcome: "SUCCEEDED"; readonly result: Record<string, unknown> }
  | { readonly outcome: "RETRYABLE_FAILURE"; readonly error: string; readonly retry_after_seconds?: number }
  | { readonly outcome: "FAILED"; readonly error: string }

/**
 * Errors to outcomes (contract §10): network errors, 5xx, 429 and rate-limit 403s (primary: no
 * requests remaining; secondary: GitHub's message, or a `retry-after`) are retryable, with GitHub's
 * wait; 401, other 403s, 404, 410, 422 and any other 4xx are `FAILED` — another try would be refused alike.
 */
export const outcomeOfError = (cause: unknown, now = Date.now()): Execution => {
  const error = (typeof cause === "object" && cause !== null ? cause : {}) as HttpError
  const status = typeof error.status === "number" ? error.status : undefined
  const message = `${status === undefined ? "" : `${status} `}${error.message ?? String(cause)}`.slice(0, 2000)
  const after = retryAfterOf(error, now)
  const retryable = (wait: number | undefined): Execution =>
    wait === undefined ? { outcome: "RETRYABLE_FAILURE", error: message } : { outcome: "RETRYABLE_FAILURE", error: message, retry_after_seconds: wait }
  if (status === undefined || status >= 500) return retryable(after)
  if (status === 429) return retryable(after)
  if (status === 403) return isRateLimited(error) ? retryable(after) : { outcome: "FAILED", error: message }
  return { outcome: "FAILED", error: message }
}

const split = (fullName: string) => {
  const slash = fullName.indexOf("/")
  return { owner: fullName.slice(0, slash), repo: fullName.slice(slash + 1) }
}

interface Comment {
  readonly id: number
  readonly body?: string | null
  readonly user?: { readonly login?: string } | null
  readonly performed_via_github_app?: { readonly id?: number } | null
}

/**
 * Finds the App's comment with the marker (paging through every comment; a human's comment quoting
 * the marker is not ours), then creates it, edits it, or leaves it when the text is the same.
 */
const upsertComment = (gh: GitHubApp, action: BotActionPayload) =>
  Effect.gen(function* () {
    const octokit = gh.installation(action.installation_id)
    const { owner, repo } = split(action.repo_full_name)
    const body = commentBody(action)
    const marker = markerText(action.marker)
    const login = yield* Effect.tryPromise(() => gh.login())
    const isOurs = (comment: Comment) =>
      (comment.performed_via_github_app?.id === gh.appId || comment.user?.login === login) && (comment.body ?? "").includes(marker)
    const comments = yield* Effect.tryPromise(() =>
      octokit.paginate(octokit.rest.issues.listComments, { owner, repo, issue_number: action.number, per_page: 100 })
    )
    const mine = (comments as ReadonlyArray<Comment>).find(isOurs)
    if (mine === undefined) {
      const created = yield* Effect.tryPromise(() => octokit.rest.issues.createComment({ owner, repo, issue_number: action.number, body }))
      return { comment_id: created.data.id, comment: "created" }
    }
    if (mine.body === body) return { comment_id: mine.id, comment: "unchanged" }
    yield* Effect.tryPromise(() => octokit.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body }))
    return { comment_id: mine.id, comment: "updated" }
  })

/** The comment, then the pull request closed (one closed already is left as it is). */
const closeWithComment = (gh: GitHubApp, action: BotActionPayload) =>
  Effect.gen(function* () {
    const comment = yield* upsertComment(gh, action)
    const octokit = gh.installation(action.installation_id)
    const { owner, repo } = split(action.repo_full_name)
    const pull = yield* Effect.tryPromise(() => octokit.rest.pulls.get({ owner, repo, pull_number: action.number }))
    if (pull.data.state === "closed") return { ...comment, pull_request: "closed already" }
    yield* Effect.tryPromise(() => octokit.rest.pulls.update({ owner, repo, pull_number: action.number, state: "closed" }))
    return { ...comment, pull_request: "closed" }
  })

/** One attempt of `action`; never fails: every error is an outcome. */
export const execute = (gh: GitHubApp, action: BotActionPayload): Effect.Effect<Execution> =>
  (action.type === "CLOSE_PR_WITH_COMMENT" ? closeWithComment(gh, action) : upsertComment(gh, action)).pipe(
    Effect.map((result): Execution => ({ outcome: "SUCCEEDED", result })),
    Effect.catchAll((e) => Effect.succeed(outcomeOfError(e.error))),
    Effect.withSpan("BotActions.execute", { attributes: { type: action.type, repo: action.repo_full_name, number: action.number } })
  )
