import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Duration, Effect } from "effect"
import { execute, outcomeOfError } from "../src/BotActions/Execute.js"
import { makeGitHubApp } from "../src/GitHub/Client.js"
import { eventually } from "./lib/GitHub.js"
import { appEnv, failures, type GitHubApi, startGitHubApi } from "./lib/GitHubApi.js"
import { actionRow, enqueueAction, internalSecret } from "./lib/Internal.js"
import { startService, type TestService } from "./lib/Service.js"

/** The in-process executor against the GitHub stand-in (contract §10). */
let svc: TestService
let github: GitHubApi
let repoSeq = 0

beforeAll(async () => {
  github = await startGitHubApi({ perPageMax: 30 })
  svc = await startService({
    env: { ...appEnv(github), BUGBOTS_INTERNAL_SECRET: internalSecret, BUGBOTS_BOT_ACTION_RETRY_BASE: "10 millis" }
  })
})
afterAll(async () => {
  await svc.stop()
  github.stop()
})

const freshRepo = () => `octo-org/repo-${Date.now().toString(36)}-${repoSeq++}`

const settled = (id: string, timeoutMs = 10_000) =>
  eventually(async () => {
    const row = await actionRow(svc.sql, id)
    return row && (row.status === "done" || row.status === "failed" || (row.status === "pending" && row.attempts > 0)) ? row : undefined
  }, timeoutMs, `action ${id} to settle`)

describe("upserts", () => {
  test("run twice, one comment: created, then left alone when unchanged, edited when the body differs", async () => {
    const repo = freshRepo()
    const first = await enqueueAction(svc.sql, { repo_full_name: repo, number: 7, marker: "gate", body: "please /verify" })
    expect((await settled(first.id)).status).toBe("done")
    expect(github.comments(repo, 7)).toHaveLength(1)
    expect(github.comments(repo, 7)[0].body).toBe("<!-- bugbots:gate -->\nplease /verify")
    expect(github.comments(repo, 7)[0].user.login).toBe(`${github.slug}[bot]`)

    const again = await enqueueAction(svc.sql, { repo_full_name: repo, number: 7, marker: "gate", body: "please /verify" })
    const row = await settled(again.id)
    expect(row.status).toBe("done")
    expect(row.result).toMatchObject({ comment: "unchanged", comment_id: github.comments(repo, 7)[0].id })
    expect(github.callsTo("PATCH", new RegExp(`^/repos/${repo}/issues/comments/`))).toHaveLength(0)

    const edited = await enqueueAction(svc.sql, { repo_full_name: repo, number: 7, marker: "gate", body: "verified" })
    expect((await settled(edited.id)).result).toMatchObject({ comment: "updated" })
    expect(github.comments(repo, 7)).toHaveLength(1)
    expect(github.comments(repo, 7)[0].body).toBe("<!-- bugbots:gate -->\nverified")
    // Another marker on the same pull request is a comment of its own.
    const other = await enqueueAction(svc.sql, { repo_full_name: repo, number: 7, marker: "bug", body: "status" })
    expect((await settled(other.id)).status).toBe("done")
    expect(github.comments(repo, 7)).toHaveLength(2)
  })

  test("actions on one comment enqueued at once run one at a time, in order: one comment, the last text", async () => {
    const repo = freshRepo()
    const ids: Array<string> = []
    for (let i = 1; i <= 6; i++) ids.push((await enqueueAction(svc.sql, { repo_full_name: repo, number: 12, marker: "gate", body: `version ${i}` })).id)
    for (const id of ids) expect((await settled(id)).status).toBe("done")
    expect(github.comments(repo, 12).map((c) => c.body)).toEqual(["<!-- bugbots:gate -->\nversion 6"])
    const rows = await svc.sql`select started_at, finished_at from jobs where id in ${svc.sql(ids)} order by seq`
    for (let i = 1; i < rows.length; i++) expect(rows[i].started_at.getTime()).toBeGreaterThanOrEqual(rows[i - 1].finished_at.getTime())
  })

  test("a marker pasted by a person is ignored: our own comment is created beside it, theirs untouched", async () => {
    const repo = freshRepo()
    const pasted = github.addHumanComment(repo, 3, "I copied this: <!-- bugbots:gate -->\nplease /verify")
    const action = await enqueueAction(svc.sql, { repo_full_name: repo, number: 3, marker: "gate", body: "please /verify" })
    expect((await settled(action.id)).result).toMatchObject({ comment: "created" })
    const all = github.comments(repo, 3)
    expect(all).toHaveLength(2)
    expect(all[0].body).toBe(pasted.body)
    expect(all[1].performed_via_github_app?.id).toBe(github.appId)
  })

  test("our comment is found past the first page (Link paging) and edited, not duplicated", async () => {
    const repo = freshRepo()
    const first = await enqueueAction(svc.sql, { repo_full_name: repo, number: 9, marker: "bug", body: "v1" })
    expect((await settled(first.id)).status).toBe("done")
    for (let i = 0; i < 70; i++) github.addHumanComment(repo, 9, `comment ${i}`)
    // Our comment is first; put the people's first so ours lands on the third page of 30.
    const list = github.comments(repo, 9) as Array<any>
    list.push(list.shift())
    const second = await enqueueAction(svc.sql, { repo_full_name: repo, number: 9, marker: "bug", body: "v2" })
    expect((await settled(second.id)).result).toMatchObject({ comment: "updated" })
    expect(github.comments(repo, 9).filter((c) => c.body.includes("bugbots:bug"))).toHaveLength(1)
    const pages = github.callsTo("GET", new RegExp(`^/repos/${repo}/issues/9/comments$`)).slice(-3)
    expect(pages.map((c) => c.query.page ?? "1")).toEqual(["1", "2", "3"])
  })

  test("CLOSE_PR_WITH_COMMENT comments and closes; a pull request closed already counts as done", async () => {
    const repo = freshRepo()
    const close = await enqueueAction(svc.sql, { type: "CLOSE_PR_WITH_COMMENT", repo_full_name: repo, number: 11, marker: "gate", body: "closed: not verified" })
    expect((await settled(close.id)).result).toMatchObject({ comment: "created", pull_request: "closed" })
    expect(github.pull(repo, 11).state).toBe("closed")
    const again = await enqueueAction(svc.sql, { type: "CLOSE_PR_WITH_COMMENT", repo_full_name: repo, number: 11, marker: "gate", body: "closed: not verified" })
    const row = await settled(again.id)
    expect(row.status).toBe("done")
    expect(row.result).toMatchObject({ comment: "unchanged", pull_request: "closed already" })
    expect(github.callsTo("PATCH", new RegExp(`^/repos/${repo}/pulls/11$`))).toHaveLength(1)
  })

  test("installation tokens are asked once per installation and reused", async () => {
    const installation = 777_001
    const before = github.callsTo("POST", /^\/app\/installations\/777001\/access_tokens$/).length
    expect(before).toBe(0)
    const actions = await Promise.all([1, 2, 3].map((n) => enqueueAction(svc.sql, { installation_id: installation, repo_full_name: freshRepo(), number: n })))
    for (const action of actions) expect((await settled(action.id)).status).toBe("done")
    expect(github.callsTo("POST", /^\/app\/installations\/777001\/access_tokens$/)).toHaveLength(1)
    const used = github.calls.filter((c) => c.path.includes("/issues/") && c.authorization !== null)
    expect(used.every((c) => /^token ghs_/.test(c.authorization!))).toBe(true)
  })
})

describe("errors become outcomes", () => {
  const failing = async (failure: Parameters<GitHubApi["fail"]>[2], method = "POST", times = 1) => {
    const repo = freshRepo()
    github.fail(method, new RegExp(`^/repos/${repo}/issues/5/comments$`), failure, times)
    const action = await enqueueAction(svc.sql, { repo_full_name: repo, number: 5 })
    return { repo, action, row: await settled(action.id) }
  }

  test("500 once is retried in place and the action is done", async () => {
    const { repo, row } = await failing(failures.serverError, "GET")
    expect(row.status).toBe("done")
    expect(row.attempts).toBe(0)
    expect(github.callsTo("GET", new RegExp(`^/repos/${repo}/issues/5/comments$`)).map((c) => c.status)).toEqual([500, 200])
  })

  test("401, 422, 404 and a 403 that is not a rate limit are FAILED at once", async () => {
    for (const failure of [failures.unprocessable, failures.notFound, failures.forbidden]) {
      const { row } = await failing(failure)
      expect(row.status).toBe("failed")
      expect(row.attempts).toBe(1)
      expect(row.last_error).toContain(String(failure.status))
    }
    // Within 5 s of a new token @octokit/auth-app retries a 401 (GitHub's replication lag); a 401 that stays is FAILED.
    const { repo, row } = await failing({ status: 401, body: { message: "Bad credentials" } }, "GET", 1000)
    expect(row.status).toBe("failed")
    expect(row.last_error).toContain("401")
    expect(new Set(github.callsTo("GET", new RegExp(`^/repos/${repo}/issues/5/comments$`)).map((c) => c.status))).toEqual(new Set([401]))
  })

  test("429 with retry-after is retryable and not due before it", async () => {
    const before = Date.now()
    const { row } = await failing(failures.tooManyRequests(90))
    expect(row.status).toBe("pending")
    expect(row.attempts).toBe(1)
    expect(new Date(row.run_at).getTime()).toBeGreaterThanOrEqual(before + 89_000)
  })

  test("secondary and primary rate-limit 403s are retryable, after retry-after and x-ratelimit-reset", async () => {
    const before = Date.now()
    const secondary = await failing(failures.secondaryRateLimit(60))
    expect(secondary.row.status).toBe("pending")
    expect(new Date(secondary.row.run_at).getTime()).toBeGreaterThanOrEqual(before + 59_000)
    const primary = await failing(failures.primaryRateLimit(300))
    expect(primary.row.status).toBe("pending")
    expect(new Date(primary.row.run_at).getTime()).toBeGreaterThanOrEqual(before + 298_000)
  })

  test("network errors and 5xx are retryable; the rest of 4xx are not", () => {
    expect(outcomeOfError(new TypeError("fetch failed")).outcome).toBe("RETRYABLE_FAILURE")
    expect(outcomeOfError({ status: 502, message: "Bad Gateway" }).outcome).toBe("RETRYABLE_FAILURE")
    expect(outcomeOfError({ status: 410, message: "Gone" }).outcome).toBe("FAILED")
    expect(outcomeOfError({ status: 400, message: "Bad Request" }).outcome).toBe("FAILED")
  })
})

describe("the client", () => {
  test("writes of one installation are paced by BUGBOTS_GITHUB_WRITE_INTERVAL; other installations are not held up", async () => {
    const app = makeGitHubApp({ appId: String(github.appId), privateKey: github.privateKeyPem, baseUrl: github.url, writeInterval: Duration.millis(400) })
    const repo = freshRepo()
    const run = (installation: number, number: number) =>
      Effect.runPromise(execute(app, { type: "UPSERT_PR_COMMENT", installation_id: installation, repo_full_name: repo, number, marker: "m", body: "b" }))
    const results = await Promise.all([run(880_001, 1), run(880_001, 2), run(880_001, 3), run(880_002, 4)])
    expect(results.every((r) => r.outcome === "SUCCEEDED")).toBe(true)
    const created = github.calls.filter((c) => c.method === "POST" && c.path.startsWith(`/repos/${repo}/issues/`))
    expect(created).toHaveLength(4)
    const at = (n: number) => created.find((c) => c.path.endsWith(`/issues/${n}/comments`))!.at
    const paced = [at(1), at(2), at(3)].sort((a, b) => a - b)
    expect(paced[1] - paced[0]).toBeGreaterThanOrEqual(300)
    expect(paced[2] - paced[1]).toBeGreaterThanOrEqual(300)
    expect(at(4)).toBeLessThan(paced[2])
  })
})
