import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Effect, Exit } from "effect"
import type { VillageId } from "../src/Domain/Ids.js"
import { BugbotsClient, makeClient } from "../src/Rpc/Client.js"
import { makeAgent, makeBug, makeUser, makeVillage } from "./lib/Fixtures.js"
import { client } from "./lib/Client.js"
import { startService, type TestService } from "./lib/Service.js"

/**
 * Rate limits (contract §12): per principal on mutating requests, per ingest key on reports; a
 * 5-second window stands in for the minute so that recovery is seen quickly. Requests go in bursts:
 * the limiter books each request 1/limit of the window, so a slow trickle never reaches the limit.
 */

let svc: TestService
let village: Awaited<ReturnType<typeof makeVillage>>

beforeAll(async () => {
  svc = await startService({ env: { BUGBOTS_RATE_LIMIT: "20", BUGBOTS_INGEST_RATE_LIMIT: "3", BUGBOTS_RATE_LIMIT_WINDOW: "5 seconds" } })
  village = await makeVillage(svc)
})
afterAll(async () => {
  await svc.stop()
})

const expectLimited = (reply: { status: number; headers: Headers; body: any }) => {
  expect(reply.status).toBe(429)
  const wait = Number(reply.headers.get("retry-after"))
  expect(wait).toBeGreaterThanOrEqual(1)
  expect(wait).toBeLessThanOrEqual(5)
  expect(reply.body.error.code).toBe("RATE_LIMITED")
  expect(reply.body.error.details.retry_after_seconds).toBe(wait)
  expect(reply.body.error.request_id).toBeString()
  return wait
}

describe("per principal, on mutating requests", () => {
  test("the limit+1st change in a window is 429 with retry-after and the envelope; reads and other principals go on; after the window it passes again", async () => {
    const triager = await makeUser(svc, { village: village.id, role: "triager" })
    const other = await makeUser(svc, { village: village.id, role: "triager" })
    await Promise.all(Array.from({ length: 20 }, () => makeBug(triager.api, village.id, village.repoId)))
    const limited = await triager.api.post(`/api/villages/${village.id}/bugs`, { repo_id: village.repoId, title: "one too many" })
    const wait = expectLimited(limited)
    // A bug that was refused was not made.
    const listed = await triager.api.get(`/api/villages/${village.id}/bugs?limit=200`)
    expect(listed.status).toBe(200)
    expect(listed.body.items.filter((b: { title: string }) => b.title === "one too many")).toEqual([])
    expect((await other.api.post(`/api/villages/${village.id}/bugs`, { repo_id: village.repoId, title: "someone else" })).status).toBe(201)

    await Bun.sleep(wait * 1000 + 100)
    expect((await triager.api.post(`/api/villages/${village.id}/bugs`, { repo_id: village.repoId, title: "after the window" })).status).toBe(201)
  })
})

describe("per ingest key", () => {
  test("native reports and Sentry envelopes share the key's limit: 429 with retry-after (and X-Sentry-Rate-Limits), then recovery", async () => {
    const root = client(svc.baseUrl, svc.rootToken)
    const key = (await root.post(`/api/repos/${village.repoId}/ingest-keys`, { name: "limited" })).body
    const other = (await root.post(`/api/repos/${village.repoId}/ingest-keys`, { name: "unlimited" })).body
    const native = client(svc.baseUrl, key.public_key)
    const first = await Promise.all([0, 1, 2].map((i) => native.post("/api/reports", { message: `error ${i}` })))
    expect(first.map((r) => r.status)).toEqual([201, 201, 201])
    const wait = expectLimited(await native.post("/api/reports", { message: "error 4" }))

    const body = `{}\n{"type":"event"}\n${JSON.stringify({ message: "from the SDK", level: "error" })}\n`
    const sentry = await fetch(`${svc.baseUrl}/api/${key.project_id}/envelope/?sentry_key=${key.public_key}`, { method: "POST", body })
    expect(sentry.status).toBe(429)
    expect(Number(sentry.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
    expect(sentry.headers.get("x-sentry-rate-limits")).toBeString()
    expect((await client(svc.baseUrl, other.public_key).post("/api/reports", { message: "another key" })).status).toBe(201)

    await Bun.sleep(wait * 1000 + 100)
    expect((await native.post("/api/reports", { message: "after the window" })).status).toBe(201)
  })
})

describe("per principal, over RPC", () => {
  test("an agent's mutating calls count (StartSession); reads do not; RateLimited with retry_after_seconds", async () => {
    const agent = await makeAgent(svc, village.id)
    const run = <A, E>(f: (client: BugbotsClient) => Effect.Effect<A, E>) =>
      Effect.runPromiseExit(Effect.flatMap(BugbotsClient, f).pipe(Effect.provide(makeClient({ url: svc.baseUrl, token: agent.token }))))
    const sessions = await Promise.all(Array.from({ length: 20 }, () => run((c) => c.StartSession())))
    expect(sessions.every(Exit.isSuccess)).toBe(true)
    const limited = await run((c) => c.StartSession())
    expect(Exit.isFailure(limited)).toBe(true)
    const failure = JSON.stringify(limited)
    expect(failure).toContain("RateLimited")
    expect(failure).toMatch(/"retry_after_seconds":[1-5]\b/)
    expect(Exit.isSuccess(await run((c) => c.ListBugs({ village_id: village.id as VillageId })))).toBe(true)
  })
})
