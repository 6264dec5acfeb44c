import { createAppAuth } from "@octokit/auth-app"
import { retry } from "@octokit/plugin-retry"
import { throttling } from "@octokit/plugin-throttling"
import { Octokit } from "@octokit/rest"
import Bottleneck from "bottleneck"
import { Duration, Effect, Option, Redacted } from "effect"
import { readFileSync } from "node:fs"
import { AppConfig } from "../Config.js"

/**
 * The one GitHub client (contract §10, §11): Octokit's REST methods and paging, with the throttling
 * and retry plugins, authenticated as the GitHub App (a JWT, for `/app/...`) or as one of its
 * installations (an installation token from that JWT, cached by `@octokit/auth-app` until a minute
 * before it expires, and renewed on a 401). Bot actions, the reconciler and missed-delivery
 * recovery all go through here.
 */

/** What Octokit rejects with (a `RequestError`), as far as GitHub's answer is read here. */
export interface HttpError {
  readonly status?: number
  readonly message?: string
  readonly response?: { readonly headers?: Record<string, string | number | undefined> }
}

const header = (error: HttpError, name: string) => {
  const value = error.response?.headers?.[name]
  return value === undefined ? undefined : String(value)
}

/** When GitHub says to come back: `retry-after` seconds, else the rate limit's reset (`x-ratelimit-reset`, epoch seconds). */
export const retryAfterOf = (error: HttpError, now: number) => {
  const after = Number(header(error, "retry-after"))
  if (Number.isFinite(after) && after >= 0 && header(error, "retry-after") !== undefined) return Math.ceil(after)
  const reset = Number(header(error, "x-ratelimit-reset"))
  if (header(error, "x-ratelimit-remaining") === "0" && Number.isFinite(reset)) return Math.max(0, Math.ceil(reset - now / 1000))
  return undefined
}

/**
 * Whether GitHub refused for a rate limit: a 429, or a 403 that is one (primary: no requests
 * remaining; secondary: GitHub's message, or a `retry-after`). Other 403s are refusals.
 */
export const isRateLimited = (error: HttpError) =>
  error.status === 429 ||
  (error.status === 403 &&
    (header(error, "x-ratelimit-remaining") === "0" || header(error, "retry-after") !== undefined || /rate limit/i.test(error.message ?? "")))

export const GitHubOctokit = Octokit.plugin(throttling, retry)
export type GitHubOctokit = InstanceType<typeof GitHubOctokit>

export interface GitHubAppOptions {
  readonly appId: string
  /** The App's private key, PEM. */
  readonly privateKey: string
  /** `https://api.github.com`, a GitHub Enterprise Server's `/api/v3`, or a stand-in. */
  readonly baseUrl: string
  /**
   * Least time between two writes of one installation: GitHub asks integrators to pace
   * content-creating requests (a second apart). Zero lets writes run side by side.
   */
  readonly writeInterval: Duration.Duration
}

/** Installations whose clients (and cached tokens) are kept; the least recently used goes first. */
const maxInstallations = 1000

/** `@path` names a PEM file; anything else is the PEM itself (newlines may come escaped as `\n`). */
export const readPrivateKey = (value: string) =>
  value.startsWith("@") ? readFileSync(value.slice(1), "utf8") : value.includes("\\n") ? value.replaceAll("\\n", "\n") : value

export const makeGitHubApp = (options: GitHubAppOptions) => {
  const interval = Duration.toMillis(options.writeInterval)
  // Writes of one installation are paced; reads of each installation run up to 10 at once.
  const pacing = {
    write: new Bottleneck.Group({ maxConcurrent: interval > 0 ? 1 : null, minTime: interval }),
    notifications: new Bottleneck.Group({ maxConcurrent: interval > 0 ? 1 : null, minTime: interval }),
    global: new Bottleneck.Group({ maxConcurrent: 10 })
  }
  const common = (id: string) => ({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    userAgent: "bugbots",
    // Rate limits are not waited out inside a request: the error carries `retry-after` /
    // `x-ratelimit-reset`, and the caller schedules its next attempt by them.
    // With no pacing asked for, the throttling plugin's limiters are left out of every request.
    throttle: { id, enabled: interval > 0, ...pacing, onRateLimit: () => false, onSecondaryRateLimit: () => false },
    // 5xx and network errors are retried twice in place; 429 is the caller's, like 4xx.
    retry: { retries: 2, doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451] },
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }
  })

  /** As the App itself (a JWT): `/app`, `/app/installations`, `/app/hook/deliveries`. */
  const app = new GitHubOctokit({
    ...common("app"),
    authStrategy: createAppAuth,
    auth: { appId: options.appId, privateKey: options.privateKey }
  })

  const installations = new Map<number, GitHubOctokit>()
  /** As installation `id`, on the repositories it covers. */
  const installation = (id: number) => {
    const known = installations.get(id)
    if (known !== undefined) {
      installations.delete(id)
      installations.set(id, known)
      return known
    }
    const octokit = new GitHubOctokit({
      ...common(`installation-${id}`),
      authStrategy: createAppAuth,
      auth: { appId: options.appId, privateKey: options.privateKey, installationId: id }
    })
    installations.set(id, octokit)
    if (installations.size > maxInstallations) installations.delete(installations.keys().next().value!)
    return octokit
  }

  let botLogin: Promise<string> | undefined
  /** The login the App's own comments are written under (`<slug>[bot]`), asked once. */
  const login = () => {
    botLogin ??= app.rest.apps.getAuthenticated().then(
      (response) => `${response.data?.slug ?? ""}[bot]`,
      (error) => {
        botLogin = undefined
        throw error
      }
    )
    return botLogin
  }

  return { appId: Number(options.appId), app, installation, login } as const
}
export type GitHubApp = ReturnType<typeof makeGitHubApp>

/**
 * The App as `GITHUB_APP_ID`, `GITHUB_APP_PRIVATE_KEY` and `GITHUB_API_URL` configure it; None
 * when the credentials are not set (then nothing is done on GitHub by this instance).
 */
export class GitHubClient extends Effect.Service<GitHubClient>()("bugbots/GitHubClient", {
  effect: Effect.gen(function* () {
    const config = yield* AppConfig
    const app = yield* Option.match(Option.all({ appId: config.githubAppId, key: config.githubAppPrivateKey }), {
      onNone: () => Effect.succeed(Option.none<GitHubApp>()),
      onSome: ({ appId, key }) =>
        Effect.try({
          try: () => readPrivateKey(Redacted.value(key)),
          catch: () => new Error("GITHUB_APP_PRIVATE_KEY names a file that cannot be read")
        }).pipe(
          Effect.orDie,
          Effect.map((privateKey) =>
            Option.some(makeGitHubApp({ appId, privateKey, baseUrl: config.githubApiUrl, writeInterval: config.githubWriteInterval }))
          )
        )
    })
    return { app } as const
  }),
  dependencies: [AppConfig.Default]
}) {}
