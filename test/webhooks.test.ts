import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { client } from "./lib/Client.js"
import { makeUser } from "./lib/Fixtures.js"
import { deliver, deliveryRow, eventually, githubId, issuesPayload, type IssueFields, sign, webhookSecret } from "./lib/GitHub.js"
import { listenOnce } from "./lib/Listen.js"
import { startService, type TestService } from "./lib/Service.js"

let svc: TestService
let root: ReturnType<typeof client>

beforeAll(async () => {
  svc = await startService({
    env: { GITHUB_WEBHOOK_SECRET: webhookSecret, BUGBOTS_WEBHOOK_MAX_ATTEMPTS: "2", BUGBOTS_WEBHOOK_RETRY_BASE: "50 millis" }
  })
  root = client(svc.baseUrl, svc.rootToken)
})
afterAll(() => svc.stop())

const delivery = (id: string) => deliveryRow(svc.sql, id)

const settled = (id: string, timeoutMs = 5000) =>
  eventually(async () => {
    const row = await delivery(id)
    return row && ["processed", "failed", "ignored"].includes(row.status) ? row : undefined
  }, timeoutMs, `delivery ${id} to settle`)

const bugOfIssue = async (issueId: number) => {
  const rows = await svc.sql`select id from bug_bots where provider = 'github' and issue_id = ${issueId}`
  if (rows.length > 1) throw new Error(`issue ${issueId} has ${rows.length} bugs`)
  if (rows.length === 0) return undefined
  const bug = await root.get(`/api/bugs/${rows[0].id}`)
  expect(bug.status).toBe(200)
  return bug.body
}

const lifecycle = async (bugId: string) => (await root.get(`/api/bugs/${bugId}/events?limit=200`)).body.items as Array<any>

/** Delivers and waits until the workers have acted on it. */
const apply = async (action: string, fields: IssueFields) => {
  const answer = await deliver(svc.baseUrl, "issues", issuesPayload(action, fields))
  expect(answer.status).toBe(202)
  expect(answer.body).toEqual({ status: "ACCEPTED", delivery_id: answer.id })
  const row = await settled(answer.id)
  expect(row.status).toBe("processed")
  return answer
}

describe("receiving", () => {
  test("a bad or missing signature is 401 in the error envelope", async () => {
    const payload = issuesPayload("opened", { issueId: githubId() })
    const wrong = await deliver(svc.baseUrl, "issues", payload, { secret: "not-the-secret" })
    expect(wrong.status).toBe(401)
    expect(wrong.body.error.code).toBe("INVALID_SIGNATURE")
    expect(wrong.body.error.request_id).toBe(wrong.headers.get("x-request-id")!)
    const missing = await deliver(svc.baseUrl, "issues", payload, { headers: { "x-hub-signature-256": undefined } })
    expect(missing.status).toBe(401)
    expect(missing.body.error.code).toBe("INVALID_SIGNATURE")
    const garbage = await deliver(svc.baseUrl, "issues", payload, { headers: { "x-hub-signature-256": "sha256=00" } })
    expect(garbage.status).toBe(401)
    const tampered = await deliver(svc.baseUrl, "issues", { ...payload, action: "closed" }, {
      headers: { "x-hub-signature-256": sign(JSON.stringify(payload)) }
    })
    expect(tampered.status).toBe(401)
    expect(await delivery(wrong.id)).toBeUndefined()
    expect(await delivery(missing.id)).toBeUndefined()
  })

  test("missing X-GitHub-Event or X-GitHub-Delivery is 400", async () => {
    const payload = issuesPayload("opened", { issueId: githubId() })
    const noEvent = await deliver(svc.baseUrl, "issues", payload, { headers: { "x-github-event": undefined } })
    expect(noEvent.status).toBe(400)
    expect(noEvent.body.error.code).toBe("VALIDATION_FAILED")
    expect(noEvent.body.error.details).toEqual({ missing_headers: ["X-GitHub-Event"] })
    const noDelivery = await deliver(svc.baseUrl, "issues", payload, { headers: { "x-github-delivery": undefined } })
    expect(noDelivery.status).toBe(400)
    expect(noDelivery.body.error.details).toEqual({ missing_headers: ["X-GitHub-Delivery"] })
  })

  test("a signed body that is not a JSON object is 400", async () => {
    for (const rawBody of ["this is not json", "[1,2,3]", '"a string"', "{\"truncated\":"]) {
      const answer = await deliver(svc.baseUrl, "issues", null, { rawBody })
      expect(answer.status).toBe(400)
      expect(answer.body.error.code).toBe("VALIDATION_FAILED")
      expect(await delivery(answer.id)).toBeUndefined()
    }
    const empty = await deliver(svc.baseUrl, "issues", null, { rawBody: "", headers: { "x-hub-signature-256": "sha256=abc" } })
    expect(empty.status).toBe(400)
  })

  test("a body over the limit is 413", async () => {
    const big = JSON.stringify({ action: "opened", filler: "x".repeat(1024 * 1024 + 10) })
    const answer = await deliver(svc.baseUrl, "issues", null, { rawBody: big })
    expect(answer.status).toBe(413)
    expect(answer.body.error.code).toBe("PAYLOAD_TOO_LARGE")
    const chunk = new TextEncoder().encode(big)
    const chunked = await fetch(`${svc.baseUrl}/api/webhooks/github`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "issues", "x-github-delivery": crypto.randomUUID(), "x-hub-signature-256": sign(big) },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(chunk)
          controller.close()
        }
      })
    })
    expect(chunked.status).toBe(413)
    expect(((await chunked.json()) as any).error.code).toBe("PAYLOAD_TOO_LARGE")
  })

  test("a form-encoded or text content type is not refused with 415: the signature decides", async () => {
    const payload = issuesPayload("opened", { issueId: githubId() })
    const answer = await deliver(svc.baseUrl, "issues", payload, { headers: { "content-type": "text/plain" } })
    expect(answer.status).toBe(202)
    await settled(answer.id)
  })

  test("without GITHUB_WEBHOOK_SECRET the endpoint answers 503 with retry-after", async () => {
    const bare = await startService()
    try {
      const answer = await deliver(bare.baseUrl, "issues", issuesPayload("opened", { issueId: githubId() }))
      expect(answer.status).toBe(503)
      expect(answer.body.error.code).toBe("SERVICE_UNAVAILABLE")
      expect(answer.headers.get("retry-after")).not.toBeNull()
    } finally {
      await bare.stop()
    }
  })

  test("the endpoint is described in /openapi.json without bearer auth; the admin endpoints with it", async () => {
    const spec = (await fetch(`${svc.baseUrl}/openapi.json`).then((r) => r.json())) as any
    const receive = spec.paths["/api/webhooks/github"].post
    expect(receive.responses["202"]).toBeDefined()
    for (const status of ["400", "401", "413", "503"]) expect(receive.responses[status]).toBeDefined()
    expect(receive.security ?? []).toEqual([])
    expect(Object.keys(receive.requestBody.content)).toEqual(["application/json"])
    const names = (receive.parameters as Array<any>).map((p) => p.name)
    expect(names).toEqual(expect.arrayContaining(["x-github-event", "x-github-delivery", "x-hub-signature-256"]))
    expect(spec.paths["/api/admin/webhook-deliveries"].get.security).toEqual([{ bearer: [] }])
    expect(spec.paths["/api/admin/webhook-deliveries/{id}/replay"].post).toBeDefined()
  })
})

describe("issues → bug bots", () => {
  test("opened, edited, labeled, unlabeled, closed, reopened, deleted, through the REST API and lifecycle events", async () => {
    const issueId = githubId()
    const base = { issueId, number: 17, repoId: githubId(), ownerId: githubId(), ownerLogin: "acme", repoName: "widgets" }
    const at = (minute: number) => `2030-01-01T00:${String(minute).padStart(2, "0")}:00Z`

    const opened = await apply("opened", { ...base, title: "Crash on start", body: "It crashes", labels: ["bug"], updatedAt: at(1) })
    const bug = (await bugOfIssue(issueId))!
    expect(bug).toMatchObject({
      provider: "github",
      source: "webhook",
      issue_id: issueId,
      issue_number: 17,
      title: "Crash on start",
      description: "It crashes",
      status: "open",
      severity: null,
      version: 1
    })
    expect(bug.metadata.html_url).toBe("https://github.com/acme/widgets/issues/17")
    const repos = await root.get(`/api/villages/${bug.village_id}/repos`)
    expect(repos.body.items.map((r: any) => r.full_name)).toEqual(["acme/widgets"])
    const village = await root.get(`/api/villages/${bug.village_id}`)
    expect(village.body).toMatchObject({ name: "acme", github_org_id: base.ownerId })
    let events = await lifecycle(bug.id)
    expect(events.map((e) => [e.kind, e.actor_type, e.correlation_id])).toEqual([["created", "system", opened.id]])
    const [spawn] = await svc.sql`select * from realtime_events where bug_id = ${bug.id} order by id`
    expect(spawn).toMatchObject({ event: "bug_bot_spawn", correlation_id: opened.id, version: 1 })

    await apply("edited", { ...base, title: "Crash on start-up", body: "It crashes at once", labels: ["bug"], updatedAt: at(2) })
    expect(await bugOfIssue(issueId)).toMatchObject({ title: "Crash on start-up", description: "It crashes at once", version: 2 })

    await apply("labeled", { ...base, title: "Crash on start-up", body: "It crashes at once", labels: ["bug", "severity:high"], updatedAt: at(3) })
    expect(await bugOfIssue(issueId)).toMatchObject({ severity: "high", version: 3 })
    await apply("labeled", { ...base, title: "Crash on start-up", body: "It crashes at once", labels: ["bug", "severity:high", "P0"], updatedAt: at(4) })
    expect(await bugOfIssue(issueId)).toMatchObject({ severity: "critical", version: 4 })
    await apply("unlabeled", { ...base, title: "Crash on start-up", body: "It crashes at once", labels: ["bug", "P3"], updatedAt: at(5) })
    expect(await bugOfIssue(issueId)).toMatchObject({ severity: "low", version: 5 })

    await apply("closed", { ...base, title: "Crash on start-up", body: "It crashes at once", labels: ["bug", "P3"], state: "closed", updatedAt: at(6) })
    const resolved = await bugOfIssue(issueId)
    expect(resolved).toMatchObject({ status: "resolved", version: 6 })
    expect(resolved.resolved_at).not.toBeNull()

    await apply("reopened", { ...base, title: "Crash on start-up", body: "It crashes at once", labels: ["bug", "P3"], updatedAt: at(7) })
    expect(await bugOfIssue(issueId)).toMatchObject({ status: "open", resolved_at: null, version: 7 })

    const deleted = await apply("deleted", { ...base, title: "Crash on start-up", body: "It crashes at once", labels: ["bug", "P3"], updatedAt: at(8) })
    expect(await bugOfIssue(issueId)).toMatchObject({ status: "closed", version: 8 })

    events = await lifecycle(bug.id)
    expect(events.map((e) => e.kind)).toEqual(["created", "edited", "edited", "edited", "edited", "status_changed", "status_changed", "status_changed"])
    expect(events.filter((e) => e.kind === "status_changed").map((e) => [e.from_status, e.to_status])).toEqual([
      ["open", "resolved"],
      ["resolved", "open"],
      ["open", "closed"]
    ])
    expect(events.every((e) => e.actor_type === "system" && e.actor_id === null)).toBe(true)
    expect(events.at(-1).correlation_id).toBe(deleted.id)
    const realtime = await svc.sql`select event, version from realtime_events where bug_id = ${bug.id} order by id`
    expect(realtime.map((r: any) => [r.event, r.version])).toEqual([
      ["bug_bot_spawn", 1],
      ["bug_bot_update", 2],
      ["bug_bot_update", 3],
      ["bug_bot_update", 4],
      ["bug_bot_update", 5],
      ["bug_bot_resolved", 6],
      ["bug_bot_update", 7],
      ["bug_bot_resolved", 8]
    ])
  })

  test("an event that changes nothing leaves the bug untouched; a stale event is not applied", async () => {
    const issueId = githubId()
    const fields = { issueId, repoId: githubId(), ownerId: githubId(), labels: ["severity:medium"], updatedAt: "2030-02-01T00:00:10Z" }
    await apply("opened", fields)
    await apply("labeled", { ...fields, labels: ["severity:medium", "help wanted"] })
    expect(await bugOfIssue(issueId)).toMatchObject({ severity: "medium", version: 1 })
    await apply("closed", { ...fields, state: "closed", updatedAt: "2030-02-01T00:00:20Z" })
    await apply("reopened", { ...fields, updatedAt: "2030-02-01T00:00:15Z" })
    expect(await bugOfIssue(issueId)).toMatchObject({ status: "resolved", version: 2 })
  })

  test("an event for an issue never seen creates it first", async () => {
    const issueId = githubId()
    await apply("closed", { issueId, repoId: githubId(), ownerId: githubId(), state: "closed", labels: ["P1"] })
    const bug = await bugOfIssue(issueId)
    expect(bug).toMatchObject({ status: "resolved", severity: "high", source: "webhook" })
    expect((await lifecycle(bug.id)).map((e) => [e.kind, e.to_status])).toEqual([
      ["created", "open"],
      ["status_changed", "resolved"]
    ])
    const edited = githubId()
    await apply("edited", { issueId: edited, repoId: githubId(), ownerId: githubId(), title: "Seen first when edited" })
    expect(await bugOfIssue(edited)).toMatchObject({ status: "open", title: "Seen first when edited", version: 1 })
  })

  test("the same delivery twice is DUPLICATE and changes nothing", async () => {
    const issueId = githubId()
    const payload = issuesPayload("opened", { issueId, repoId: githubId(), ownerId: githubId() })
    const first = await deliver(svc.baseUrl, "issues", payload)
    expect(first.body.status).toBe("ACCEPTED")
    await settled(first.id)
    const before = await bugOfIssue(issueId)
    const again = await deliver(svc.baseUrl, "issues", issuesPayload("closed", { issueId, state: "closed" }), { id: first.id })
    expect(again.status).toBe(202)
    expect(again.body).toEqual({ status: "DUPLICATE", delivery_id: first.id })
    await Bun.sleep(300)
    expect(await bugOfIssue(issueId)).toEqual(before)
    const [row] = await svc.sql`
      select count(*)::int as n, min(meta ->> 'event') as event, min(meta ->> 'action') as action
      from jobs where kind = 'github.delivery' and meta ->> 'delivery_id' = ${first.id}`
    expect(row).toEqual({ n: 1, event: "issues", action: "opened" })
  })

  test("20 concurrent distinct deliveries of one issue make one bug", async () => {
    const issueId = githubId()
    const fields = { issueId, repoId: githubId(), ownerId: githubId(), ownerLogin: `racer-${issueId}`, updatedAt: "2030-03-01T00:00:00Z" }
    const actions = ["opened", "edited", "labeled", "unlabeled", "edited"]
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => deliver(svc.baseUrl, "issues", issuesPayload(actions[i % actions.length], fields)))
    )
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202))
    expect(new Set(answers.map((a) => a.body.status))).toEqual(new Set(["ACCEPTED"]))
    for (const answer of answers) expect((await settled(answer.id)).status).toBe("processed")
    const bugs = await svc.sql`select id from bug_bots where issue_id = ${issueId}`
    expect(bugs.length).toBe(1)
    const villages = await svc.sql`select id from villages where github_org_id = ${fields.ownerId}`
    expect(villages.length).toBe(1)
    const repos = await svc.sql`select id from repos where github_repo_id = ${fields.repoId}`
    expect(repos.length).toBe(1)
    const created = (await lifecycle(bugs[0].id)).filter((e) => e.kind === "created")
    expect(created.length).toBe(1)
  })

  test("the same delivery sent 10 times at once is stored once: one ACCEPTED, nine DUPLICATE", async () => {
    const issueId = githubId()
    const payload = issuesPayload("opened", { issueId, repoId: githubId(), ownerId: githubId() })
    const id = crypto.randomUUID()
    const answers = await Promise.all(Array.from({ length: 10 }, () => deliver(svc.baseUrl, "issues", payload, { id })))
    expect(answers.map((a) => a.body.status).sort()).toEqual(["ACCEPTED", ...Array(9).fill("DUPLICATE")])
    await settled(id)
    expect((await svc.sql`select id from bug_bots where issue_id = ${issueId}`).length).toBe(1)
  })

  test("two instances on one database share the ledger and still make one bug per issue", async () => {
    const other = await startService({ databaseUrl: svc.databaseUrl, env: { GITHUB_WEBHOOK_SECRET: webhookSecret } })
    try {
      const issueId = githubId()
      const fields = { issueId, repoId: githubId(), ownerId: githubId(), updatedAt: "2030-04-01T00:00:00Z" }
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => deliver(i % 2 === 0 ? svc.baseUrl : other.baseUrl, "issues", issuesPayload(i < 10 ? "opened" : "labeled", fields)))
      )
      expect(answers.every((a) => a.status === 202 && a.body.status === "ACCEPTED")).toBe(true)
      for (const answer of answers) expect((await settled(answer.id)).status).toBe("processed")
      expect((await svc.sql`select id from bug_bots where issue_id = ${issueId}`).length).toBe(1)
    } finally {
      await other.stop()
    }
  })

  test("a payload with NUL characters is stored and applied", async () => {
    const issueId = githubId()
    const answer = await apply("opened", { issueId, repoId: githubId(), ownerId: githubId(), body: "before\u0000after" })
    expect((await delivery(answer.id))!.status).toBe("processed")
    expect((await bugOfIssue(issueId)).description).toBe("before\ufffdafter")
  })

  test("other events and other issue actions are stored and IGNORED", async () => {
    const push = await deliver(svc.baseUrl, "push", { ref: "refs/heads/main", repository: { id: githubId(), full_name: "x/y" } })
    expect(push.body).toEqual({ status: "IGNORED", delivery_id: push.id })
    const assigned = await deliver(svc.baseUrl, "issues", issuesPayload("assigned", { issueId: githubId() }))
    expect(assigned.body.status).toBe("IGNORED")
    const ping = await deliver(svc.baseUrl, "ping", { zen: "Keep it logically awesome.", hook_id: 1 })
    expect(ping.body.status).toBe("IGNORED")
    for (const id of [push.id, assigned.id, ping.id]) expect((await delivery(id))!.status).toBe("ignored")
    expect((await delivery(push.id))!.payload.ref).toBe("refs/heads/main")
  })

  test("a repo created by hand with the same name is linked, not duplicated", async () => {
    const ownerId = githubId()
    const repoId = githubId()
    const village = await root.post("/api/villages", { name: "hand-made", github_org_id: ownerId })
    expect(village.status).toBe(201)
    const repo = await root.post(`/api/villages/${village.body.id}/repos`, { full_name: "handmade/tools" })
    expect(repo.status).toBe(201)
    const issueId = githubId()
    await apply("opened", { issueId, repoId, ownerId, ownerLogin: "handmade", repoName: "tools" })
    const bug = await bugOfIssue(issueId)
    expect(bug.village_id).toBe(village.body.id)
    expect(bug.repo_id).toBe(repo.body.id)
    const [linked] = await svc.sql`select github_repo_id::bigint as id from repos where id = ${repo.body.id}`
    expect(Number(linked.id)).toBe(repoId)
  })
})

describe("installations → villages and repos", () => {
  const account = (id: number, login: string) => ({ login, id, type: "Organization" })
  const installation = (id: number, acc: ReturnType<typeof account>, extra: Record<string, unknown> = {}) => ({
    id,
    account: acc,
    repository_selection: "selected",
    app_id: 1,
    ...extra
  })
  const send = async (event: string, payload: unknown) => {
    const answer = await deliver(svc.baseUrl, event, payload)
    expect(answer.body.status).toBe("ACCEPTED")
    expect((await settled(answer.id)).status).toBe("processed")
  }
  const installed = async (id: number) => (await svc.sql`select * from github_installations where id = ${id}`)[0]
  const links = async (id: number) =>
    (
      await svc.sql`
        select r.full_name, l.removed_at from github_installation_repos l join repos r on r.id = l.repo_id
        where l.installation_id = ${id} order by r.full_name`
    ).map((r: any) => [r.full_name, r.removed_at === null])

  test("created, repositories added and removed, suspend, unsuspend, deleted", async () => {
    const instId = githubId()
    const acc = account(githubId(), `inst-org-${instId}`)
    const [a, b, c] = [githubId(), githubId(), githubId()]
    await send("installation", {
      action: "created",
      installation: installation(instId, acc),
      repositories: [
        { id: a, name: "a", full_name: `${acc.login}/a`, private: false },
        { id: b, name: "b", full_name: `${acc.login}/b`, private: true }
      ],
      sender: { login: "admin", id: 1 }
    })
    const [village] = await svc.sql`select * from villages where github_org_id = ${acc.id}`
    expect(village.name).toBe(acc.login)
    expect(await installed(instId)).toMatchObject({ account_login: acc.login, village_id: village.id, deleted_at: null, suspended_at: null })
    expect(await links(instId)).toEqual([
      [`${acc.login}/a`, true],
      [`${acc.login}/b`, true]
    ])

    await send("installation_repositories", {
      action: "added",
      installation: installation(instId, acc),
      repository_selection: "selected",
      repositories_added: [{ id: c, name: "c", full_name: `${acc.login}/c`, private: false }],
      repositories_removed: []
    })
    await send("installation_repositories", {
      action: "removed",
      installation: installation(instId, acc),
      repository_selection: "selected",
      repositories_added: [],
      repositories_removed: [{ id: a, name: "a", full_name: `${acc.login}/a`, private: false }]
    })
    expect(await links(instId)).toEqual([
      [`${acc.login}/a`, false],
      [`${acc.login}/b`, true],
      [`${acc.login}/c`, true]
    ])
    const repos = await root.get(`/api/villages/${village.id}/repos`)
    expect(repos.body.items.map((r: any) => [r.full_name, r.github_repo_id]).sort()).toEqual([
      [`${acc.login}/a`, a],
      [`${acc.login}/b`, b],
      [`${acc.login}/c`, c]
    ])

    await send("installation", { action: "suspend", installation: installation(instId, acc, { suspended_at: "2030-01-01T00:00:00Z" }) })
    expect((await installed(instId)).suspended_at).toEqual(new Date("2030-01-01T00:00:00Z"))
    await send("installation", { action: "unsuspend", installation: installation(instId, acc, { suspended_at: null }) })
    expect((await installed(instId)).suspended_at).toBeNull()
    await send("installation", { action: "deleted", installation: installation(instId, acc) })
    expect((await installed(instId)).deleted_at).not.toBeNull()
    expect((await svc.sql`select count(*)::int as n from repos where village_id = ${village.id}`)[0].n).toBe(3)
  })

  test("an issue delivery of an installation links its repo to the installation", async () => {
    const installationId = githubId()
    const repoId = githubId()
    const ownerId = githubId()
    await apply("opened", { issueId: githubId(), repoId, ownerId, ownerLogin: `solo-${ownerId}`, installationId })
    expect(await links(installationId)).toEqual([[`solo-${ownerId}/octo-repo`, true]])
    expect(await installed(installationId)).toMatchObject({ account_login: `solo-${ownerId}` })
  })
})

describe("failures, dead letters and replay", () => {
  test("a payload that can never apply is dead-lettered at once", async () => {
    const answer = await deliver(svc.baseUrl, "issues", { action: "opened", issue: { id: "not a number" } })
    expect(answer.body.status).toBe("ACCEPTED")
    const row = await settled(answer.id)
    expect(row).toMatchObject({ status: "failed", attempts: 1 })
    expect(row.last_error).toContain("issue")
  })

  test("a failing delivery retries on the schedule, is dead-lettered, listed, and replays once fixed", async () => {
    await svc.sql.unsafe(`
      create function refuse_doomed() returns trigger language plpgsql as $$
      begin if new.title = 'doomed' then raise exception 'refusing doomed bugs'; end if; return new; end $$;
      create trigger refuse_doomed before insert on bug_bots for each row execute function refuse_doomed();`)
    const issueId = githubId()
    const answer = await deliver(svc.baseUrl, "issues", issuesPayload("opened", { issueId, title: "doomed", repoId: githubId(), ownerId: githubId() }))
    expect(answer.body.status).toBe("ACCEPTED")
    const failed = await settled(answer.id)
    expect(failed).toMatchObject({ status: "failed", attempts: 2 })
    expect(failed.last_error).toContain("refusing doomed bugs")
    expect(await bugOfIssue(issueId)).toBeUndefined()

    const listed = await root.get("/api/admin/webhook-deliveries?status=failed&limit=1")
    expect(listed.status).toBe(200)
    expect(listed.body.items[0]).toMatchObject({ id: answer.id, event: "issues", action: "opened", status: "failed", attempts: 2 })
    expect(listed.body.items[0].last_error).toContain("refusing doomed bugs")
    const page2 = await root.get(`/api/admin/webhook-deliveries?status=failed&limit=1&cursor=${listed.body.next_cursor}`)
    expect(page2.status).toBe(200)
    expect(page2.body.items.every((d: any) => d.status === "failed" && d.id !== answer.id)).toBe(true)

    const user = await makeUser(svc)
    expect((await user.api.get("/api/admin/webhook-deliveries")).status).toBe(403)
    expect((await user.api.post(`/api/admin/webhook-deliveries/${answer.id}/replay`)).status).toBe(403)
    expect((await client(svc.baseUrl).get("/api/admin/webhook-deliveries")).status).toBe(401)
    expect((await root.post(`/api/admin/webhook-deliveries/no-such-delivery/replay`)).status).toBe(404)

    await svc.sql.unsafe(`drop trigger refuse_doomed on bug_bots; drop function refuse_doomed();`)
    const replayed = await root.post(`/api/admin/webhook-deliveries/${answer.id}/replay`)
    expect(replayed.status).toBe(202)
    expect(replayed.body).toMatchObject({ id: answer.id, status: "pending", attempts: 0 })
    const done = await settled(answer.id)
    // Attempts count failures: the replayed delivery succeeded on its first fresh attempt.
    expect(done).toMatchObject({ status: "processed", attempts: 0, last_error: null })
    expect(await bugOfIssue(issueId)).toMatchObject({ title: "doomed", status: "open" })
  })

  test("a delivery whose worker vanished on every attempt is dead-lettered, not claimed again", async () => {
    // Its last attempt's worker vanished: the lease ran out, which counts as the last failed attempt.
    await svc.sql`
      insert into jobs (kind, key, payload, meta, status, attempts, max_attempts, lease_token, lease_expires_at)
      values ('github.delivery', 'issues abandoned-delivery', '{}'::jsonb,
              '{"delivery_id": "abandoned-delivery", "event": "issues", "action": "opened"}'::jsonb,
              'running', 1, 2, gen_random_uuid(), now() - interval '1 second')`
    const row = await settled("abandoned-delivery")
    expect(row).toMatchObject({ status: "failed", attempts: 2 })
    expect(row.last_error).toContain("lease ran out")
  })

  test("replaying a delivery that is queued is 409", async () => {
    const [row] = await svc.sql`
      insert into jobs (kind, key, payload, meta, status, max_attempts, run_at)
      values ('github.delivery', 'issues parked-delivery', '{}'::jsonb,
              '{"delivery_id": "parked-delivery", "event": "issues", "action": "opened"}'::jsonb, 'pending', 2, now() + interval '1 hour')
      returning meta ->> 'delivery_id' as id`
    const replay = await root.post(`/api/admin/webhook-deliveries/${row.id}/replay`)
    expect(replay.status).toBe(409)
    expect(replay.body.error.code).toBe("DELIVERY_IN_FLIGHT")
  })

  test("listing validates its status filter", async () => {
    expect((await root.get("/api/admin/webhook-deliveries?status=bogus")).status).toBe(400)
    const ignored = await root.get("/api/admin/webhook-deliveries?status=ignored,processed&limit=200")
    expect(ignored.status).toBe(200)
    expect(ignored.body.items.every((d: any) => d.status === "ignored" || d.status === "processed")).toBe(true)
  })
})

describe("instances", () => {
  test("an accepted delivery is announced to the other instances (NOTIFY on the jobs channel)", async () => {
    const { next } = await listenOnce(svc.databaseUrl, "bugbots_jobs")
    const answer = await deliver(svc.baseUrl, "issues", issuesPayload("opened", { issueId: githubId() }))
    expect(answer.status).toBe(202)
    expect(await next).toBe("github.delivery")
  })
})
