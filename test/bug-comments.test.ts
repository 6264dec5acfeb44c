import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { client } from "./lib/Client.js"
import { makeAgent, makeUser } from "./lib/Fixtures.js"
import { deliver, eventually, githubId, issuesPayload, webhookSecret } from "./lib/GitHub.js"
import { appEnv, type GitHubApi, startGitHubApi } from "./lib/GitHubApi.js"
import { startService, type TestService } from "./lib/Service.js"

/** Bug status back to GitHub (contract §10): one issue comment, marker `bug`, kept by the outbox. */
let svc: TestService
let github: GitHubApi
let root: ReturnType<typeof client>

beforeAll(async () => {
  github = await startGitHubApi()
  svc = await startService({ env: { ...appEnv(github), GITHUB_WEBHOOK_SECRET: webhookSecret, BUGBOTS_BOT_ACTION_RETRY_BASE: "10 millis" } })
  root = client(svc.baseUrl, svc.rootToken)
})
afterAll(async () => {
  await svc.stop()
  github.stop()
})

/** A GitHub issue delivered through the webhook, in a repository of its own, under an installation. */
const issueBug = async () => {
  const ownerId = githubId()
  const fields = { issueId: githubId(), number: 40 + (ownerId % 50), repoId: githubId(), ownerId, ownerLogin: `org-${ownerId}`, installationId: githubId() }
  const answer = await deliver(svc.baseUrl, "issues", issuesPayload("opened", fields))
  expect(answer.status).toBe(202)
  const bug = await eventually(async () => (await svc.sql`select id, repo_id, village_id from bug_bots where issue_id = ${fields.issueId}`)[0], 5000, "the bug")
  return { ...fields, bugId: bug.id as string, repoId: bug.repo_id as string, villageId: bug.village_id as string, fullName: `org-${ownerId}/octo-repo` }
}

const actionsOf = (bugId: string) => svc.sql`select status, payload from jobs where kind = 'github.action' and meta ->> 'bug_id' = ${bugId} order by seq`

describe("comment_on_issues", () => {
  test("GET/PUT /repos/{id}/settings: readers read, admins and maintainers change", async () => {
    const { repoId, villageId } = await issueBug()
    const read = await root.get(`/api/repos/${repoId}/settings`)
    expect(read.status).toBe(200)
    expect(read.body).toMatchObject({ repo_id: repoId, comment_on_issues: false })
    const triager = await makeUser(svc, { village: villageId, role: "triager" })
    expect((await triager.api.get(`/api/repos/${repoId}/settings`)).status).toBe(200)
    expect((await triager.api.put(`/api/repos/${repoId}/settings`, { comment_on_issues: true })).status).toBe(403)
    const stranger = await makeUser(svc)
    expect((await stranger.api.get(`/api/repos/${repoId}/settings`)).status).toBe(404)
    const maintainer = await makeUser(svc, { village: villageId, role: "maintainer" })
    const set = await maintainer.api.put(`/api/repos/${repoId}/settings`, { comment_on_issues: true })
    expect(set.status).toBe(200)
    expect(set.body.comment_on_issues).toBe(true)
    expect((await root.put(`/api/repos/${repoId}/settings`, { comment_on_issues: "yes" })).status).toBe(400)
    expect((await root.put(`/api/repos/${repoId}/settings`, { other: true })).status).toBe(400)
  })

  test("claim, awaiting_verification and resolution upsert one comment with status and agent", async () => {
    const bug = await issueBug()
    expect((await root.put(`/api/repos/${bug.repoId}/settings`, { comment_on_issues: true })).status).toBe(200)
    const agent = await makeAgent(svc, bug.villageId)
    const claimed = await agent.api.post("/api/agents/claim", {})
    expect(claimed.status).toBe(200)
    expect(claimed.body.bug.id).toBe(bug.bugId)
    const first = await eventually(async () => github.comments(bug.fullName, bug.number)[0], 10_000, "the claim's comment")
    expect(first.body).toContain("<!-- bugbots:bug -->")
    expect(first.body).toContain("status: `in_progress`")
    const agentName = (await root.get(`/api/bugs/${bug.bugId}`)).body.assigned_agent_id
    expect(agentName).toBe(agent.id)
    const [named] = await svc.sql`select name from agents where id = ${agent.id}`
    expect(first.body).toContain(`agent: \`${named.name}\``)

    const waiting = await agent.api.put(`/api/bugs/${bug.bugId}/status`, { status: "awaiting_verification", lease_token: claimed.body.lease.token })
    expect(waiting.status).toBe(200)
    await eventually(async () => github.comments(bug.fullName, bug.number)[0]?.body.includes("awaiting_verification"), 10_000, "the update")
    const resolved = await root.put(`/api/bugs/${bug.bugId}/status`, { status: "resolved" })
    expect(resolved.status).toBe(200)
    await eventually(async () => github.comments(bug.fullName, bug.number)[0]?.body.includes("`resolved`"), 10_000, "the resolution")
    expect(github.comments(bug.fullName, bug.number)).toHaveLength(1)
    const actions = await actionsOf(bug.bugId)
    expect(actions.map((a: any) => a.payload.type)).toEqual(["UPSERT_ISSUE_COMMENT", "UPSERT_ISSUE_COMMENT", "UPSERT_ISSUE_COMMENT"])
    expect(actions.every((a: any) => a.payload.installation_id === bug.installationId && a.payload.number === bug.number)).toBe(true)
  })

  test("other changes, and every change while the setting is off, enqueue nothing", async () => {
    const bug = await issueBug()
    expect((await root.put(`/api/bugs/${bug.bugId}/status`, { status: "triaged" })).status).toBe(200)
    expect((await root.put(`/api/bugs/${bug.bugId}/status`, { status: "resolved" })).status).toBe(200)
    expect(await actionsOf(bug.bugId)).toHaveLength(0)
    expect((await root.put(`/api/repos/${bug.repoId}/settings`, { comment_on_issues: true })).status).toBe(200)
    expect((await root.put(`/api/bugs/${bug.bugId}/status`, { status: "open" })).status).toBe(200)
    expect((await root.patch(`/api/bugs/${bug.bugId}`, { title: "renamed" })).status).toBe(200)
    expect(await actionsOf(bug.bugId)).toHaveLength(0)
    expect((await root.put(`/api/bugs/${bug.bugId}/status`, { status: "closed" })).status).toBe(200)
    expect(await actionsOf(bug.bugId)).toHaveLength(1)
  })

  test("a manual bug never comments", async () => {
    const bug = await issueBug()
    expect((await root.put(`/api/repos/${bug.repoId}/settings`, { comment_on_issues: true })).status).toBe(200)
    const manual = await root.post(`/api/villages/${bug.villageId}/bugs`, { repo_id: bug.repoId, title: "by hand" })
    expect(manual.status).toBe(201)
    expect((await root.put(`/api/bugs/${manual.body.id}/status`, { status: "resolved" })).status).toBe(200)
    expect(await actionsOf(manual.body.id)).toHaveLength(0)
  })
})
