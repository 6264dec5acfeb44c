import { afterAll, beforeAll, expect, test } from "bun:test"
import { client } from "./lib/Client.js"
import { example } from "./lib/Examples.js"
import { makeUser } from "./lib/Fixtures.js"
import { deliver, deliveryRow, eventually, githubId, webhookSecret } from "./lib/GitHub.js"
import { internalSecret, signedPost } from "./lib/Internal.js"
import { startService, type TestService } from "./lib/Service.js"

/** `GET /api/v1/repos/{id}/github-app-status` kept by installation deliveries (contract §10). */
let svc: TestService
let root: ReturnType<typeof client>

beforeAll(async () => {
  svc = await startService({ env: { GITHUB_WEBHOOK_SECRET: webhookSecret, BUGBOTS_INTERNAL_SECRET: internalSecret, BUGBOTS_EXECUTOR: "off" } })
  root = client(svc.baseUrl, svc.rootToken)
})
afterAll(() => svc.stop())

const processed = (id: string) =>
  eventually(async () => {
    const row = await deliveryRow(svc.sql, id)
    return row && row.status === "processed" ? row : undefined
  }, 5000, `delivery ${id}`)

/** GitHub's example installation payload of `action`, for installation `id` of account `login`. */
const installationEvent = (event: string, action: string, id: number, account: { id: number; login: string }, repos: Record<string, unknown> = {}) => {
  const payload = example(event, action)
  payload.installation = { ...payload.installation, id, account: { ...payload.installation.account, id: account.id, login: account.login } }
  return { ...payload, ...repos }
}

const send = async (event: string, payload: unknown) => {
  const answer = await deliver(svc.baseUrl, event, payload)
  expect(answer.status).toBe(202)
  await processed(answer.id)
}

const statusOf = async (repoId: string) => {
  const answer = await root.get(`/api/v1/repos/${repoId}/github-app-status`)
  expect(answer.status).toBe(200)
  return answer.body
}

test("installed, suspended, unsuspended, removed, added back and deleted, as deliveries say", async () => {
  const installationId = githubId()
  const account = { id: githubId(), login: `acct-${Date.now()}` }
  const repository = { id: githubId(), name: "svc", full_name: `${account.login}/svc`, private: false }
  await send("installation", installationEvent("installation", "created", installationId, account, { repositories: [repository] }))
  const [repo] = await svc.sql`select id, village_id from repos where github_repo_id = ${repository.id}`
  const installed = await statusOf(repo.id)
  expect(installed).toMatchObject({
    repo_id: repo.id,
    installed: true,
    installation_id: installationId,
    account_login: account.login,
    suspended: false,
    removed: false
  })
  expect(Date.parse(installed.updated_at)).toBeGreaterThan(Date.now() - 60_000)

  await send("installation", installationEvent("installation", "suspend", installationId, account))
  expect((await statusOf(repo.id)).suspended).toBe(true)
  await send("installation", installationEvent("installation", "unsuspend", installationId, account))
  expect((await statusOf(repo.id)).suspended).toBe(false)

  await send(
    "installation_repositories",
    installationEvent("installation_repositories", "removed", installationId, account, { repositories_added: [], repositories_removed: [repository] })
  )
  expect(await statusOf(repo.id)).toMatchObject({ installed: false, removed: true, installation_id: installationId })
  await send(
    "installation_repositories",
    installationEvent("installation_repositories", "added", installationId, account, { repositories_added: [repository], repositories_removed: [] })
  )
  expect(await statusOf(repo.id)).toMatchObject({ installed: true, removed: false })

  // Over the v2 protocol: the same effects.
  const deleted = installationEvent("installation", "deleted", installationId, account, { repositories: [repository] })
  const deliveryId = crypto.randomUUID()
  const forwarded = await signedPost(svc.baseUrl, "/internal/v2/github/events/installation-sync", { delivery_id: deliveryId, event: "installation", payload: deleted })
  expect(forwarded.status).toBe(200)
  expect(forwarded.body).toEqual({ status: "ACCEPTED", delivery_id: deliveryId })
  await processed(deliveryId)
  expect(await statusOf(repo.id)).toMatchObject({ installed: false, removed: true, installation_id: installationId })
  const again = await signedPost(svc.baseUrl, "/internal/v2/github/events/installation-sync", { delivery_id: deliveryId, event: "installation", payload: deleted })
  expect(again.body.status).toBe("DUPLICATE")
})

test("a repo never installed reads as not installed; readers only", async () => {
  const village = await root.post("/api/villages", { name: `v-${Date.now()}` })
  const repo = await root.post(`/api/villages/${village.body.id}/repos`, { full_name: `own/r-${Date.now()}` })
  expect(await statusOf(repo.body.id)).toEqual({
    repo_id: repo.body.id,
    installed: false,
    installation_id: null,
    account_login: null,
    suspended: false,
    removed: false,
    updated_at: null
  })
  expect((await (await makeUser(svc)).api.get(`/api/v1/repos/${repo.body.id}/github-app-status`)).status).toBe(404)
  const reader = await makeUser(svc, { village: village.body.id, role: "operator" })
  expect((await reader.api.get(`/api/v1/repos/${repo.body.id}/github-app-status`)).status).toBe(200)
  expect((await root.get(`/api/v1/repos/not-a-uuid/github-app-status`)).status).toBe(400)
  expect((await root.get(`/api/v1/repos/${crypto.randomUUID()}/github-app-status`)).status).toBe(404)
})
