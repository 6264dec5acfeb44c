import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { client, type Client } from "./lib/Client.js"
import { makeUser } from "./lib/Fixtures.js"
import { deliver, deliveryRow, eventually, githubId, issuesPayload, webhookSecret } from "./lib/GitHub.js"
import { appEnv, failures, type GitHubApi, startGitHubApi } from "./lib/GitHubApi.js"
import { withIssues } from "./lib/GitHubIssues.js"
import { startService, type TestService } from "./lib/Service.js"

/** Contract §11 against the GitHub stand-in: the reconciler per repo, and missed-delivery recovery. */
let github: GitHubApi
let gh: ReturnType<typeof withIssues>
let svc: TestService
let root: Client

beforeAll(async () => {
  github = await startGitHubApi()
  svc = await startService({
    env: {
      ...appEnv(github),
      GITHUB_WEBHOOK_SECRET: webhookSecret,
      BUGBOTS_GITHUB_WAIT_SCALE: "0.001",
      BUGBOTS_RECONCILE_INTERVAL: "1 hour",
      BUGBOTS_RECOVERY_INTERVAL: "1 hour",
      BUGBOTS_LEADER_POLL: "200 millis"
    }
  })
  gh = withIssues(github, { webhookUrl: `${svc.baseUrl}/api/webhooks/github`, webhookSecret })
  root = client(svc.baseUrl, svc.rootToken)
})

afterAll(async () => {
  await svc.stop()
  github.stop()
})

const settledDelivery = (id: string) =>
  eventually(async () => {
    const row = await deliveryRow(svc.sql, id)
    return row !== undefined && row.status === "processed" ? row : undefined
  }, 10_000, `delivery ${id}`)

/** A repository the App is installed on (an `installation.created` delivery); its repo in bugbots. */
const installedRepo = async () => {
  const owner = `rec-org-${githubId()}`
  const repository = { id: githubId(), name: "app", full_name: `${owner}/app`, private: false }
  const installation = { id: githubId(), account: { login: owner, id: githubId(), type: "Organization" }, repository_selection: "selected", app_id: github.appId }
  const answer = await deliver(svc.baseUrl, "installation", { action: "created", installation, repositories: [repository], sender: { login: "admin", id: 1 } })
  await settledDelivery(answer.id)
  const [repo] = await svc.sql`select id, village_id from repos where github_repo_id = ${repository.id}`
  return { fullName: repository.full_name, id: repo.id as string, villageId: repo.village_id as string, installationId: installation.id, githubRepoId: repository.id }
}

const bugsOf = async (repoId: string) =>
  (await svc.sql`select issue_number, status, source, title, severity, metadata from bug_bots where repo_id = ${repoId} order by issue_number`) as Array<any>

const label = (name: string) => ({ id: githubId(), name, color: "ededed", default: false })

describe("the reconciler", () => {
  test("150 issues over two pages: a dry run plans, a real run makes the bugs, a re-run changes nothing, then a 304", async () => {
    const repo = await installedRepo()
    for (let n = 1; n <= 150; n++) {
      gh.addIssue(repo.fullName, {
        title: `issue ${n}`,
        ...(n === 7 ? { pull_request: { url: `https://api.github.com/repos/${repo.fullName}/pulls/7` } } : {}),
        ...(n === 10 ? { state: "closed" as const } : {}),
        ...(n === 12 ? { labels: [label("severity:critical")] } : {})
      })
    }
    const listed = () => github.callsTo("GET", new RegExp(`^/repos/${repo.fullName}/issues$`))

    const dry = await root.post(`/api/repos/${repo.id}/reconcile`, { dry_run: true })
    expect(dry.status).toBe(200)
    expect(dry.body).toMatchObject({ repo_id: repo.id, dry_run: true, status: "succeeded", created: 149, updated: 0, resolved: 0, reopened: 0 })
    expect(dry.body.planned).toHaveLength(149)
    expect(dry.body.planned[0]).toEqual({ issue_number: 1, issue_id: expect.any(Number), title: "issue 1", change: "create" })
    expect(dry.body.planned.some((p: any) => p.issue_number === 7)).toBe(false)
    expect(await bugsOf(repo.id)).toHaveLength(0)
    const dryCalls = listed()
    expect(dryCalls).toHaveLength(2)
    expect(dryCalls[0].query).toMatchObject({ state: "all", per_page: "100", sort: "updated", direction: "asc" })
    expect(dryCalls[1].query.page).toBe("2")

    const real = await root.post(`/api/repos/${repo.id}/reconcile`, {})
    expect(real.body).toMatchObject({ dry_run: false, status: "succeeded", created: 149, unchanged: 0, planned: [] })
    const bugs = await bugsOf(repo.id)
    expect(bugs).toHaveLength(149)
    expect(bugs.every((b) => b.source === "reconcile")).toBe(true)
    expect(bugs.find((b) => b.issue_number === 7)).toBeUndefined()
    expect(bugs.find((b) => b.issue_number === 10).status).toBe("resolved")
    expect(bugs.find((b) => b.issue_number === 12).severity).toBe("critical")
    expect(bugs.find((b) => b.issue_number === 1).status).toBe("open")

    // Discrepancies are counted on /metrics (the registry is the process's: other services here count too).
    const metrics = await (await fetch(`${svc.baseUrl}/metrics`)).text()
    const created = /^bugbots_reconcile_discrepancies_total\{kind="created"\} (\d+)/m.exec(metrics)
    expect(Number(created?.[1])).toBeGreaterThanOrEqual(2 * 149)

    // The next run lists from the newest change it took (GitHub's `since` includes it): nothing changes.
    const again = await root.post(`/api/repos/${repo.id}/reconcile`, {})
    expect(again.body).toMatchObject({ status: "succeeded", created: 0, updated: 0, resolved: 0, reopened: 0, unchanged: 1 })
    expect(Date.parse(listed().at(-1)!.query.since)).toBe(Date.parse(gh.issues(repo.fullName).at(-1)!.updated_at))
    // The same listing once more is answered 304 to the ETag kept, which costs no rate limit.
    const unchanged = await root.post(`/api/repos/${repo.id}/reconcile`, {})
    expect(unchanged.body).toMatchObject({ status: "not_modified", created: 0, unchanged: 0 })
    expect(listed().at(-1)!.status).toBe(304)

    const runs = await root.get(`/api/repos/${repo.id}/reconcile-runs?limit=10`)
    expect(runs.body.items.map((r: any) => r.status)).toEqual(["not_modified", "succeeded", "succeeded", "succeeded"])
    expect(runs.body.items.map((r: any) => r.dry_run)).toEqual([false, false, false, true])
  })

  test("a closed issue resolves its bug, a reopened one reopens it, an edit updates it; through the lifecycle, as webhooks do", async () => {
    const repo = await installedRepo()
    for (let n = 1; n <= 4; n++) gh.addIssue(repo.fullName, { title: `issue ${n}`, ...(n === 2 ? { state: "closed" as const } : {}) })
    expect((await root.post(`/api/repos/${repo.id}/reconcile`, {})).body).toMatchObject({ created: 4 })
    gh.updateIssue(repo.fullName, 1, { state: "closed" })
    gh.updateIssue(repo.fullName, 2, { state: "open" })
    gh.updateIssue(repo.fullName, 3, { title: "a better title", labels: [label("P1")] })

    const dry = await root.post(`/api/repos/${repo.id}/reconcile`, { dry_run: true })
    expect(dry.body).toMatchObject({ resolved: 1, reopened: 1, updated: 1, created: 0 })
    expect(dry.body.planned.map((p: any) => [p.issue_number, p.change])).toEqual([[1, "resolve"], [2, "reopen"], [3, "update"]])
    expect((await bugsOf(repo.id)).map((b) => b.status)).toEqual(["open", "resolved", "open", "open"])

    const real = await root.post(`/api/repos/${repo.id}/reconcile`, {})
    expect(real.body).toMatchObject({ status: "succeeded", resolved: 1, reopened: 1, updated: 1, created: 0 })
    const bugs = await bugsOf(repo.id)
    expect(bugs.map((b) => b.status)).toEqual(["resolved", "open", "open", "open"])
    expect(bugs[2]).toMatchObject({ title: "a better title", severity: "high" })
    const [bug1] = await svc.sql`select id from bug_bots where repo_id = ${repo.id} and issue_number = 1`
    const events = await root.get(`/api/bugs/${bug1.id}/events`)
    expect(events.body.items.find((e: any) => e.to_status === "resolved")).toMatchObject({ from_status: "open", data: { action: "reconcile" } })

    // A bug an agent resolved while its issue stays open is not reopened: the issue never closed.
    const [bug3] = await svc.sql`select id from bug_bots where repo_id = ${repo.id} and issue_number = 3`
    expect((await root.put(`/api/bugs/${bug3.id}/status`, { status: "resolved" })).status).toBe(200)
    gh.updateIssue(repo.fullName, 3, { body: "more detail" })
    expect((await root.post(`/api/repos/${repo.id}/reconcile`, {})).body).toMatchObject({ reopened: 0, updated: 1 })
    expect((await bugsOf(repo.id))[2].status).toBe("resolved")
  })

  test("a 429 with retry-after and a secondary rate limit are waited out as GitHub asks; a refusal fails the run, recorded", async () => {
    const repo = await installedRepo()
    gh.addIssue(repo.fullName, { title: "one" })
    github.fail("GET", new RegExp(`^/repos/${repo.fullName}/issues$`), failures.tooManyRequests(60))
    github.fail("GET", new RegExp(`^/repos/${repo.fullName}/issues$`), failures.secondaryRateLimit(30))
    const started = Date.now()
    const run = await root.post(`/api/repos/${repo.id}/reconcile`, {})
    expect(run.body).toMatchObject({ status: "succeeded", created: 1 })
    // 60 s and 30 s, scaled by BUGBOTS_GITHUB_WAIT_SCALE=0.001.
    expect(Date.now() - started).toBeGreaterThanOrEqual(90)
    expect(github.callsTo("GET", new RegExp(`^/repos/${repo.fullName}/issues$`)).map((c) => c.status)).toEqual([429, 403, 200])

    github.fail("GET", new RegExp(`^/repos/${repo.fullName}/issues$`), failures.forbidden)
    const refused = await root.post(`/api/repos/${repo.id}/reconcile`, {})
    expect(refused.body).toMatchObject({ status: "failed", error: expect.stringContaining("403") })
  })

  test("who may run it: maintainers and admins of the village; others 403 or 404; a repo not installed is 409", async () => {
    const repo = await installedRepo()
    const user = await makeUser(svc)
    const stranger = user.api
    expect((await stranger.post(`/api/repos/${repo.id}/reconcile`, {})).status).toBe(404)
    expect((await root.put(`/api/villages/${repo.villageId}/members/${user.id}`, { role: "triager" })).status).toBe(200)
    expect((await stranger.post(`/api/repos/${repo.id}/reconcile`, {})).status).toBe(403)
    expect((await stranger.get(`/api/repos/${repo.id}/reconcile-runs`)).status).toBe(200)
    const village = (await root.post("/api/villages", { name: `plain-${githubId()}` })).body
    const plain = (await root.post(`/api/villages/${village.id}/repos`, { full_name: `plain/repo-${githubId()}` })).body
    const notInstalled = await root.post(`/api/repos/${plain.id}/reconcile`, {})
    expect(notInstalled.status).toBe(409)
    expect(notInstalled.body.error.code).toBe("CONFLICT")
  })
})

describe("missed-delivery recovery", () => {
  test("redelivers exactly what the ledger lacks (failed at GitHub, or never arrived), once; a re-run asks nothing", async () => {
    const received = issuesPayload("opened", { issueId: githubId(), repoId: githubId(), ownerLogin: `rd-${githubId()}` })
    const arrived = gh.addDelivery("issues", received)
    await settledDelivery((await deliver(svc.baseUrl, "issues", received, { id: arrived.guid })).id)
    const failed = gh.addDelivery("issues", issuesPayload("opened", { issueId: githubId(), repoId: githubId(), ownerLogin: `rd-${githubId()}` }), { statusCode: 503 })
    const lost = gh.addDelivery("issues", issuesPayload("opened", { issueId: githubId(), repoId: githubId(), ownerLogin: `rd-${githubId()}` }), { minutesAgo: 30 })
    gh.addDelivery("issues", issuesPayload("opened", { issueId: githubId() }), { statusCode: 500, minutesAgo: 4 * 24 * 60 })
    const attempts = () => github.callsTo("POST", /^\/app\/hook\/deliveries\/\d+\/attempts$/)

    const dry = await root.post("/api/admin/webhook-deliveries/recover", { dry_run: true })
    expect(dry.status).toBe(200)
    expect(dry.body).toEqual({ dry_run: true, checked: 3, missing: 2, redelivered: 2 })
    expect(attempts()).toHaveLength(0)

    const real = await root.post("/api/admin/webhook-deliveries/recover", {})
    expect(real.body).toEqual({ dry_run: false, checked: 3, missing: 2, redelivered: 2 })
    expect(attempts().map((c) => c.path).sort()).toEqual([`/app/hook/deliveries/${failed.id}/attempts`, `/app/hook/deliveries/${lost.id}/attempts`].sort())
    // GitHub redelivered them to the receiver: both are in the ledger and processed.
    await settledDelivery(failed.guid)
    await settledDelivery(lost.guid)

    const rerun = await root.post("/api/admin/webhook-deliveries/recover", {})
    expect(rerun.body).toEqual({ dry_run: false, checked: 3, missing: 0, redelivered: 0 })
    expect(attempts()).toHaveLength(2)
    expect((await client(svc.baseUrl).post("/api/admin/webhook-deliveries/recover", {})).status).toBe(401)
  })
})

describe("on the leader", () => {
  test("the scheduled run reconciles every installed repo without being asked", async () => {
    const scheduled = await startService({
      env: { ...appEnv(github), GITHUB_WEBHOOK_SECRET: webhookSecret, BUGBOTS_RECONCILE_INTERVAL: "300 millis", BUGBOTS_LEADER_POLL: "100 millis" }
    })
    try {
      const owner = `sched-${githubId()}`
      const repository = { id: githubId(), name: "svc", full_name: `${owner}/svc`, private: false }
      const installation = { id: githubId(), account: { login: owner, id: githubId(), type: "Organization" }, repository_selection: "selected", app_id: github.appId }
      gh.addIssue(repository.full_name, { title: "found by the schedule" })
      expect((await deliver(scheduled.baseUrl, "installation", { action: "created", installation, repositories: [repository] })).status).toBe(202)
      const [bug] = await eventually(async () => {
        const rows = await scheduled.sql`select b.title, b.source from bug_bots b join repos r on r.id = b.repo_id where r.github_repo_id = ${repository.id}`
        return rows.length > 0 ? rows : undefined
      }, 10_000, "the scheduled reconcile")
      expect(bug).toMatchObject({ title: "found by the schedule", source: "reconcile" })
      const [run] = await scheduled.sql`select trigger, status from reconcile_runs order by seq desc limit 1`
      expect(run).toMatchObject({ trigger: "schedule" })
    } finally {
      await scheduled.stop()
    }
  })
})
