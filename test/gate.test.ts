import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { isAllowlisted } from "../src/Domain/Gate.js"
import { client } from "./lib/Client.js"
import { makeUser } from "./lib/Fixtures.js"
import { example, type Place, prCommentEvent, pullRequestEvent } from "./lib/Examples.js"
import { deliver, deliveryRow, eventually, githubId, webhookSecret } from "./lib/GitHub.js"
import { appEnv, type GitHubApi, startGitHubApi } from "./lib/GitHubApi.js"
import { internalSecret, signedPost } from "./lib/Internal.js"
import { startService, type TestService } from "./lib/Service.js"

/** The pull-request gate end to end (contract §10): signed deliveries in, comments and closes out through the stand-in. */
let svc: TestService
let github: GitHubApi
let root: ReturnType<typeof client>

beforeAll(async () => {
  github = await startGitHubApi()
  svc = await startService({
    env: {
      ...appEnv(github),
      GITHUB_WEBHOOK_SECRET: webhookSecret,
      BUGBOTS_INTERNAL_SECRET: internalSecret,
      BUGBOTS_BOT_ACTION_RETRY_BASE: "10 millis",
      BUGBOTS_GATE_SWEEP: "100 millis"
    }
  })
  root = client(svc.baseUrl, svc.rootToken)
})
afterAll(async () => {
  await svc.stop()
  github.stop()
})

const freshPlace = (): Place => {
  const ownerId = githubId()
  return { ownerId, ownerLogin: `gate-org-${ownerId}`, repoId: githubId(), repoName: "app", installationId: githubId() }
}
const fullName = (place: Place) => `${place.ownerLogin}/${place.repoName}`

/** Delivers a signed event and waits until it is processed. */
const send = async (event: string, payload: unknown) => {
  const answer = await deliver(svc.baseUrl, event, payload)
  expect(answer.status).toBe(202)
  expect(answer.body.status).toBe("ACCEPTED")
  const row = await eventually(async () => {
    const r = await deliveryRow(svc.sql, answer.id)
    return r && r.status !== "pending" && r.status !== "processing" ? r : undefined
  }, 5000, `delivery ${answer.id}`)
  expect(row.status).toBe("processed")
  return answer
}

/** A repo known to bugbots (provisioned by an installation's delivery) with its gate set. */
const gatedRepo = async (gate: Record<string, unknown> = { enabled: true }) => {
  const place = freshPlace()
  // A first pull request by a bot provisions the repo, its village and the installation link.
  await send("pull_request", pullRequestEvent("closed", place, 1, { login: "seed[bot]", type: "Bot" }))
  const [repo] = await svc.sql`select id, village_id from repos where github_repo_id = ${place.repoId}`
  const set = await root.put(`/api/repos/${repo.id}/gate`, gate)
  expect(set.status).toBe(200)
  return { place, repoId: repo.id as string, villageId: repo.village_id as string }
}

const challengeOf = async (repoId: string, number: number) => root.get(`/api/repos/${repoId}/pull-requests/${number}/gate`)
const gateComments = (place: Place, number: number) => github.comments(fullName(place), number).filter((c) => c.body.includes("<!-- bugbots:gate -->"))
const actionsFor = (place: Place, number: number) =>
  svc.sql`select payload ->> 'type' as type, status from jobs where kind = 'github.action'
          and payload ->> 'repo_full_name' = ${fullName(place)} and (payload ->> 'number')::int = ${number} order by seq`

describe("settings", () => {
  test("GET reads defaults until set; PUT by admins and maintainers; bad input is 400", async () => {
    const { repoId, villageId } = await gatedRepo({ enabled: false })
    const read = await root.get(`/api/repos/${repoId}/gate`)
    expect(read.body).toMatchObject({ repo_id: repoId, enabled: false, deadline_hours: 72, allowlist: [], exempt_drafts: true, message: null })
    const maintainer = await makeUser(svc, { village: villageId, role: "maintainer" })
    const set = await maintainer.api.put(`/api/repos/${repoId}/gate`, { enabled: true, deadline_hours: 24, allowlist: ["renovate*", "*-ci"] })
    expect(set.status).toBe(200)
    expect(set.body).toMatchObject({ enabled: true, deadline_hours: 24, allowlist: ["renovate*", "*-ci"], exempt_drafts: true })
    const triager = await makeUser(svc, { village: villageId, role: "triager" })
    expect((await triager.api.get(`/api/repos/${repoId}/gate`)).status).toBe(200)
    expect((await triager.api.put(`/api/repos/${repoId}/gate`, { enabled: false })).status).toBe(403)
    expect((await (await makeUser(svc)).api.get(`/api/repos/${repoId}/gate`)).status).toBe(404)
    for (const bad of [{}, { enabled: true, deadline_hours: 0 }, { enabled: true, allowlist: ["a b"] }, { enabled: true, extra: 1 }]) {
      expect((await root.put(`/api/repos/${repoId}/gate`, bad)).status).toBe(400)
    }
  })

  test("allowlist patterns: * is any run of characters, case does not matter", () => {
    expect(isAllowlisted("renovate-bot", ["renovate*"])).toBe(true)
    expect(isAllowlisted("Build-CI", ["*-ci"])).toBe(true)
    expect(isAllowlisted("anyone", ["*"])).toBe(true)
    expect(isAllowlisted("alice", ["bob", "al"])).toBe(false)
    expect(isAllowlisted("a.b", ["a*b"])).toBe(true)
    expect(isAllowlisted("axb", ["a.b"])).toBe(false)
  })
})

describe("paths", () => {
  test("gate comment: an author's pull request gets a PENDING challenge and one comment asking for /verify", async () => {
    const { place, repoId } = await gatedRepo()
    const before = Date.now()
    await send("pull_request", pullRequestEvent("opened", place, 5, { login: "alice" }))
    const challenge = await challengeOf(repoId, 5)
    expect(challenge.status).toBe(200)
    expect(challenge.body).toMatchObject({ status: "PENDING", author: "alice" })
    expect(Date.parse(challenge.body.deadline_at)).toBeGreaterThanOrEqual(before + 72 * 3600_000 - 5000)
    const [comment] = await eventually(async () => gateComments(place, 5).length === 1 && gateComments(place, 5), 10_000, "the gate comment")
    expect(comment.body).toContain("@alice")
    expect(comment.body).toContain("/verify")
    // A push does not challenge again.
    await send("pull_request", pullRequestEvent("synchronize", place, 5, { login: "alice" }))
    expect((await actionsFor(place, 5)).length).toBe(1)
    expect((await challengeOf(repoId, 5)).body.deadline_at).toBe(challenge.body.deadline_at)
  })

  test("verification: /verify by someone else changes nothing; by the author it is VERIFIED and the comment says so", async () => {
    const { place, repoId } = await gatedRepo()
    await send("pull_request", pullRequestEvent("opened", place, 6, { login: "bob" }))
    await send("issue_comment", prCommentEvent(place, 6, "/verify", { login: "mallory", id: 666 }))
    await send("issue_comment", prCommentEvent(place, 6, "please /verify later", { login: "bob", id: 1006 }))
    expect((await challengeOf(repoId, 6)).body.status).toBe("PENDING")
    await send("issue_comment", prCommentEvent(place, 6, "  /verify\n", { login: "bob", id: 1006 }))
    expect((await challengeOf(repoId, 6)).body.status).toBe("VERIFIED")
    await eventually(async () => gateComments(place, 6)[0]?.body.includes("Verified by @bob"), 10_000, "the verified comment")
    expect(gateComments(place, 6)).toHaveLength(1)
  })

  test("/approve counts from an admin or maintainer of the village only", async () => {
    const { place, repoId, villageId } = await gatedRepo()
    await send("pull_request", pullRequestEvent("opened", place, 7, { login: "carol" }))
    const outsiderId = githubId()
    await send("issue_comment", prCommentEvent(place, 7, "/approve", { login: "outsider", id: outsiderId }))
    expect((await challengeOf(repoId, 7)).body.status).toBe("PENDING")
    const maintainerGithubId = githubId()
    const user = await root.post("/api/users", { login: `maint-${maintainerGithubId}`, github_id: maintainerGithubId })
    expect(user.status).toBe(201)
    expect((await root.put(`/api/villages/${villageId}/members/${user.body.id}`, { role: "triager" })).status).toBe(200)
    await send("issue_comment", prCommentEvent(place, 7, "/approve", { login: `maint-${maintainerGithubId}`, id: maintainerGithubId }))
    expect((await challengeOf(repoId, 7)).body.status).toBe("PENDING")
    expect((await root.put(`/api/villages/${villageId}/members/${user.body.id}`, { role: "maintainer" })).status).toBe(200)
    await send("issue_comment", prCommentEvent(place, 7, "/approve", { login: `maint-${maintainerGithubId}`, id: maintainerGithubId }))
    expect((await challengeOf(repoId, 7)).body.status).toBe("VERIFIED")
    await eventually(async () => gateComments(place, 7)[0]?.body.includes("Approved by"), 10_000, "the approval comment")
  })

  test("timeout: past its deadline a challenge is EXPIRED and the pull request closed with a comment", async () => {
    const { place, repoId } = await gatedRepo({ enabled: true, deadline_hours: 1 })
    await send("pull_request", pullRequestEvent("opened", place, 8, { login: "dave" }))
    await eventually(async () => gateComments(place, 8).length === 1, 10_000, "the gate comment")
    expect(github.pull(fullName(place), 8).state).toBe("open")
    // The hour passes.
    await svc.sql`update pr_challenges set deadline_at = now() - interval '1 second' where repo_id = ${repoId} and number = 8`
    await eventually(async () => (await challengeOf(repoId, 8)).body.status === "EXPIRED", 5000, "expiry")
    await eventually(async () => github.pull(fullName(place), 8).state === "closed", 10_000, "the close")
    expect(gateComments(place, 8)).toHaveLength(1)
    expect(gateComments(place, 8)[0].body).toContain("Closed: @dave did not comment `/verify`")
    await eventually(async () => (await actionsFor(place, 8)).every((a: any) => a.status === "done"), 5000, "the actions to settle")
    expect((await actionsFor(place, 8)).map((a: any) => [a.type, a.status])).toEqual([
      ["UPSERT_PR_COMMENT", "done"],
      ["CLOSE_PR_WITH_COMMENT", "done"]
    ])
    // Its `closed` delivery then changes nothing, and a late /verify neither.
    await send("pull_request", pullRequestEvent("closed", place, 8, { login: "dave" }))
    await send("issue_comment", prCommentEvent(place, 8, "/verify", { login: "dave", id: 1008 }))
    expect((await challengeOf(repoId, 8)).body.status).toBe("EXPIRED")
    // Reopened, it is challenged again.
    await send("pull_request", pullRequestEvent("reopened", place, 8, { login: "dave" }))
    expect((await challengeOf(repoId, 8)).body.status).toBe("PENDING")
  })

  test("closed ends a pending challenge (CLOSED) with no action", async () => {
    const { place, repoId } = await gatedRepo()
    await send("pull_request", pullRequestEvent("opened", place, 9, { login: "erin" }))
    await send("pull_request", pullRequestEvent("closed", place, 9, { login: "erin" }))
    expect((await challengeOf(repoId, 9)).body.status).toBe("CLOSED")
    expect((await actionsFor(place, 9)).length).toBe(1)
    await svc.sql`update pr_challenges set deadline_at = now() - interval '1 second' where repo_id = ${repoId} and number = 9`
    await Bun.sleep(400)
    expect((await actionsFor(place, 9)).length).toBe(1)
  })
})

describe("installation removed and added", () => {
  const installationEvent = (action: string, place: Place, installationId: number) => {
    const payload = example("installation", action)
    payload.installation = { ...payload.installation, id: installationId, account: { ...payload.installation.account, id: place.ownerId, login: place.ownerLogin } }
    payload.repositories = [{ id: place.repoId, name: place.repoName, full_name: fullName(place), private: false }]
    return payload
  }

  test("while the App is not installed nothing is challenged or closed; installed again, the overdue pull request is closed", async () => {
    const { place, repoId } = await gatedRepo()
    await send("pull_request", pullRequestEvent("opened", place, 70, { login: "jack" }))
    expect((await challengeOf(repoId, 70)).body.status).toBe("PENDING")
    await send("installation", installationEvent("deleted", place, place.installationId))
    await send("pull_request", pullRequestEvent("opened", place, 71, { login: "kate" }))
    expect((await challengeOf(repoId, 71)).status).toBe(404)
    await svc.sql`update pr_challenges set deadline_at = now() - interval '1 second' where repo_id = ${repoId} and number = 70`
    await Bun.sleep(500)
    expect((await challengeOf(repoId, 70)).body.status).toBe("PENDING")
    expect((await actionsFor(place, 70)).map((a: any) => a.type)).toEqual(["UPSERT_PR_COMMENT"])

    const again = githubId()
    await send("installation", installationEvent("created", place, again))
    await eventually(async () => (await challengeOf(repoId, 70)).body.status === "EXPIRED", 5000, "expiry once installed")
    await eventually(async () => github.pull(fullName(place), 70).state === "closed", 10_000, "the close")
    const [close] = await svc.sql`select payload from jobs where kind = 'github.action' and payload ->> 'type' = 'CLOSE_PR_WITH_COMMENT'
                                  and payload ->> 'repo_full_name' = ${fullName(place)} and (payload ->> 'number')::int = 70`
    expect(close.payload.installation_id).toBe(again)
  })
})

describe("exemptions", () => {
  test("a draft gets nothing until ready for review; then it is challenged", async () => {
    const { place, repoId } = await gatedRepo()
    await send("pull_request", pullRequestEvent("opened", place, 20, { login: "frank" }, { draft: true }))
    expect((await challengeOf(repoId, 20)).status).toBe(404)
    expect(await actionsFor(place, 20)).toHaveLength(0)
    await send("pull_request", pullRequestEvent("ready_for_review", place, 20, { login: "frank" }))
    expect((await challengeOf(repoId, 20)).body.status).toBe("PENDING")
  })

  test("drafts are challenged when exempt_drafts is false", async () => {
    const { place, repoId } = await gatedRepo({ enabled: true, exempt_drafts: false })
    await send("pull_request", pullRequestEvent("opened", place, 21, { login: "gina" }, { draft: true }))
    expect((await challengeOf(repoId, 21)).body.status).toBe("PENDING")
  })

  test("bots ([bot] or type Bot) and allowlisted logins are EXEMPT, and told so", async () => {
    const { place, repoId } = await gatedRepo({ enabled: true, allowlist: ["renovate*", "*-ci"] })
    await send("pull_request", pullRequestEvent("opened", place, 30, { login: "dependabot[bot]", type: "Bot" }))
    await send("pull_request", pullRequestEvent("opened", place, 31, { login: "machine-user", type: "Bot" }))
    await send("pull_request", pullRequestEvent("opened", place, 32, { login: "Renovate-Helper" }))
    await send("pull_request", pullRequestEvent("opened", place, 33, { login: "deploy-ci" }))
    await send("pull_request", pullRequestEvent("opened", place, 34, { login: "human" }))
    for (const n of [30, 31, 32, 33]) {
      const challenge = await challengeOf(repoId, n)
      expect(challenge.body).toMatchObject({ status: "EXEMPT", deadline_at: null })
      await eventually(async () => gateComments(place, n)[0]?.body.includes("exempt"), 10_000, `the exempt comment on ${n}`)
    }
    expect((await challengeOf(repoId, 34)).body.status).toBe("PENDING")
  })

  test("a repo whose gate is off gets nothing", async () => {
    const { place, repoId } = await gatedRepo({ enabled: false })
    await send("pull_request", pullRequestEvent("opened", place, 40, { login: "henry" }))
    expect((await challengeOf(repoId, 40)).status).toBe(404)
    expect(await actionsFor(place, 40)).toHaveLength(0)
  })
})

describe("v2 ingest and instances", () => {
  test("a pull request forwarded over the v2 protocol has the same effects and shares the ledger's dedup", async () => {
    const { place, repoId } = await gatedRepo()
    const deliveryId = crypto.randomUUID()
    const payload = pullRequestEvent("opened", place, 50, { login: "ivy" })
    const forwarded = await signedPost(svc.baseUrl, "/internal/v2/github/events/pull-request", { delivery_id: deliveryId, event: "pull_request", payload })
    expect(forwarded.status).toBe(200)
    expect(forwarded.body).toEqual({ status: "ACCEPTED", delivery_id: deliveryId })
    await eventually(async () => (await challengeOf(repoId, 50)).body.status === "PENDING", 5000, "the challenge")
    const again = await signedPost(svc.baseUrl, "/internal/v2/github/events/pull-request", { delivery_id: deliveryId, event: "pull_request", payload })
    expect(again.body.status).toBe("DUPLICATE")
    const viaWebhook = await deliver(svc.baseUrl, "pull_request", payload, { id: deliveryId })
    expect(viaWebhook.body.status).toBe("DUPLICATE")
    const wrongRoute = await signedPost(svc.baseUrl, "/internal/v2/github/events/installation-sync", { delivery_id: crypto.randomUUID(), event: "pull_request", payload })
    expect(wrongRoute.status).toBe(400)
    expect((await actionsFor(place, 50)).length).toBe(1)
  })

  test("two instances sweeping deadlines: each expired pull request is closed once", async () => {
    const second = await startService({
      databaseUrl: svc.databaseUrl,
      env: { ...appEnv(github), BUGBOTS_GATE_SWEEP: "50 millis", BUGBOTS_BOT_ACTION_RETRY_BASE: "10 millis" }
    })
    try {
      const { place, repoId } = await gatedRepo()
      const numbers = [60, 61, 62, 63, 64, 65]
      for (const n of numbers) await send("pull_request", pullRequestEvent("opened", place, n, { login: `user${n}` }))
      await svc.sql`update pr_challenges set deadline_at = now() - interval '1 second' where repo_id = ${repoId}`
      for (const n of numbers) await eventually(async () => github.pull(fullName(place), n).state === "closed", 10_000, `close of ${n}`)
      await Bun.sleep(500)
      for (const n of numbers) {
        const closes = (await actionsFor(place, n)).filter((a: any) => a.type === "CLOSE_PR_WITH_COMMENT")
        expect(closes).toHaveLength(1)
        expect(github.callsTo("PATCH", new RegExp(`^/repos/${fullName(place)}/pulls/${n}$`))).toHaveLength(1)
      }
    } finally {
      await second.stop()
    }
  })
})
