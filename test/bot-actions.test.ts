import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { client } from "./lib/Client.js"
import { makeUser } from "./lib/Fixtures.js"
import { eventually } from "./lib/GitHub.js"
import { actionRow, enqueueAction, internalSecret, internalSignature, signedPost } from "./lib/Internal.js"
import { startService, type TestService } from "./lib/Service.js"

/** The outbox and its signed v2 protocol, with the in-process executor off (contract §10). */
let svc: TestService
let root: ReturnType<typeof client>

beforeAll(async () => {
  svc = await startService({
    env: {
      BUGBOTS_INTERNAL_SECRET: internalSecret,
      BUGBOTS_EXECUTOR: "off",
      BUGBOTS_BOT_ACTION_MAX_ATTEMPTS: "3",
      BUGBOTS_BOT_ACTION_RETRY_BASE: "10 millis"
    }
  })
  root = client(svc.baseUrl, svc.rootToken)
})
afterAll(() => svc.stop())

const claim = (body: unknown = {}) => signedPost(svc.baseUrl, "/internal/v2/bot-actions/claim", body)
const report = (id: string, body: unknown) => signedPost(svc.baseUrl, `/internal/v2/bot-actions/${id}/result`, body)

/** Claims until `id` comes up (other tests' actions may be due too, and are released again). */
const claimOne = async (id: string, leaseSeconds = 60) => {
  for (let i = 0; i < 20; i++) {
    const claimed = await claim({ limit: 50, lease_seconds: leaseSeconds })
    expect(claimed.status).toBe(200)
    const mine = claimed.body.actions.find((a: any) => a.id === id)
    await svc.sql`update jobs set status = 'pending', lease_token = null, lease_expires_at = null
                  where kind = 'github.action' and status = 'running' and id <> ${id}`
    if (mine) return mine
    await Bun.sleep(20)
  }
  throw new Error(`action ${id} was never claimed`)
}

const adminView = async (id: string) => {
  const listed = await root.get(`/api/admin/bot-actions?limit=200`)
  expect(listed.status).toBe(200)
  return listed.body.items.find((a: any) => a.id === id)
}

describe("signature", () => {
  test("a bad signature, a missing header or a timestamp more than 300 s away is 401; within 300 s is accepted", async () => {
    const wrong = await signedPost(svc.baseUrl, "/internal/v2/bot-actions/claim", {}, { secret: "not-the-secret" })
    expect(wrong.status).toBe(401)
    expect(wrong.body.error.code).toBe("INVALID_SIGNATURE")
    const unsigned = await signedPost(svc.baseUrl, "/internal/v2/bot-actions/claim", {}, { headers: { "x-bugbots-signature": undefined } })
    expect(unsigned.status).toBe(401)
    const noTime = await signedPost(svc.baseUrl, "/internal/v2/bot-actions/claim", {}, { headers: { "x-bugbots-timestamp": undefined } })
    expect(noTime.status).toBe(401)
    const now = Math.floor(Date.now() / 1000)
    for (const timestamp of [now - 301, now + 301]) {
      const stale = await signedPost(svc.baseUrl, "/internal/v2/bot-actions/claim", {}, { timestamp })
      expect(stale.status).toBe(401)
      expect(stale.body.error.message).toContain("300")
    }
    const early = await signedPost(svc.baseUrl, "/internal/v2/bot-actions/claim", { limit: 1 }, { timestamp: now - 290 })
    expect(early.status).toBe(200)
    await svc.sql`update jobs set status = 'pending', lease_token = null, lease_expires_at = null where kind = 'github.action' and status = 'running'`
    // The signature covers the body: the same headers over another body are refused.
    const text = JSON.stringify({ limit: 1 })
    const ts = String(now)
    const tampered = await fetch(`${svc.baseUrl}/internal/v2/bot-actions/claim`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-bugbots-timestamp": ts, "x-bugbots-signature": internalSignature(text, ts) },
      body: JSON.stringify({ limit: 2 })
    })
    expect(tampered.status).toBe(401)
  })

  test("a signed body that does not decode is 400 (limits, unknown fields)", async () => {
    for (const body of [{ limit: 0 }, { limit: 51 }, { lease_seconds: 9 }, { lease_seconds: 601 }, { limit: 1, extra: true }]) {
      const refused = await claim(body)
      expect(refused.status).toBe(400)
      expect(refused.body.error.code).toBe("VALIDATION_FAILED")
    }
  })

  test("with BUGBOTS_INTERNAL_SECRET unset every v2 endpoint is 503", async () => {
    const bare = await startService({ env: { BUGBOTS_EXECUTOR: "off" } })
    try {
      for (const path of [
        "/internal/v2/bot-actions/claim",
        `/internal/v2/bot-actions/${crypto.randomUUID()}/result`,
        "/internal/v2/github/events/installation-sync",
        "/internal/v2/github/events/pull-request"
      ]) {
        const answer = await signedPost(bare.baseUrl, path, {})
        expect(answer.status).toBe(503)
        expect(answer.body.error.code).toBe("SERVICE_UNAVAILABLE")
      }
    } finally {
      await bare.stop()
    }
  })
})

describe("states", () => {
  test("PENDING → CLAIMED → DONE; attempts are not counted by a claim", async () => {
    const action = await enqueueAction(svc.sql)
    expect((await adminView(action.id)).status).toBe("PENDING")
    const claimed = await claimOne(action.id)
    expect(claimed).toMatchObject({ ...action.payload, id: action.id, attempt: 1 })
    expect(typeof claimed.lease_token).toBe("string")
    expect(Date.parse(claimed.lease_expires_at)).toBeGreaterThan(Date.now() + 50_000)
    const held = await adminView(action.id)
    expect(held.status).toBe("CLAIMED")
    expect(held.attempts).toBe(0)
    const done = await report(action.id, { lease_token: claimed.lease_token, outcome: "SUCCEEDED" })
    expect(done.status).toBe(200)
    expect(done.body).toMatchObject({ id: action.id, status: "DONE", attempts: 0, last_error: null })
    expect(done.body.finished_at).not.toBeNull()
    // Settled: the same lease cannot settle it again.
    const again = await report(action.id, { lease_token: claimed.lease_token, outcome: "FAILED" })
    expect(again.status).toBe(409)
    expect(again.body.error.code).toBe("LEASE_LOST")
    expect((await adminView(action.id)).status).toBe("DONE")
  })

  test("RETRYABLE_FAILURE goes back to PENDING, not due before retry_after_seconds, one attempt counted", async () => {
    const action = await enqueueAction(svc.sql)
    const claimed = await claimOne(action.id)
    const before = Date.now()
    const retry = await report(action.id, {
      lease_token: claimed.lease_token,
      outcome: "RETRYABLE_FAILURE",
      error: "502 from GitHub",
      retry_after_seconds: 120
    })
    expect(retry.status).toBe(200)
    expect(retry.body).toMatchObject({ status: "PENDING", attempts: 1, last_error: "502 from GitHub" })
    expect(Date.parse(retry.body.next_attempt_at)).toBeGreaterThanOrEqual(before + 119_000)
    const row = await actionRow(svc.sql, action.id)
    expect(row!.lease_token).toBeNull()
    const waiting = await root.get("/api/admin/bot-actions?status=RETRYABLE_FAILURE&limit=200")
    expect(waiting.status).toBe(200)
    expect(waiting.body.items.map((a: any) => a.id)).toContain(action.id)
    expect(waiting.body.items.every((a: any) => a.status === "PENDING" && a.attempts > 0)).toBe(true)
    // Not due yet: a claim does not hand it out.
    const next = await claim({ limit: 50 })
    expect(next.body.actions.map((a: any) => a.id)).not.toContain(action.id)
    await svc.sql`update jobs set status = 'pending', lease_token = null, lease_expires_at = null
                  where kind = 'github.action' and status = 'running'`
    // Once due, its next claim is attempt 2.
    await svc.sql`update jobs set run_at = now() where id = ${action.id}`
    expect((await claimOne(action.id)).attempt).toBe(2)
  })

  test("FAILED is the dead letter at once; a superuser's retry queues it again with fresh attempts", async () => {
    const action = await enqueueAction(svc.sql)
    const claimed = await claimOne(action.id)
    const failed = await report(action.id, { lease_token: claimed.lease_token, outcome: "FAILED", error: "422 Validation Failed" })
    expect(failed.status).toBe(200)
    expect(failed.body).toMatchObject({ status: "FAILED", attempts: 1, last_error: "422 Validation Failed", next_attempt_at: null })
    const dead = await root.get("/api/admin/bot-actions?status=FAILED&limit=200")
    expect(dead.body.items.map((a: any) => a.id)).toContain(action.id)
    const pending = await root.get("/api/admin/bot-actions?status=PENDING,CLAIMED&limit=200")
    expect(pending.body.items.map((a: any) => a.id)).not.toContain(action.id)

    const retried = await root.post(`/api/admin/bot-actions/${action.id}/retry`)
    expect(retried.status).toBe(202)
    expect(retried.body).toMatchObject({ id: action.id, status: "PENDING", attempts: 0, last_error: null })
    const twice = await root.post(`/api/admin/bot-actions/${action.id}/retry`)
    expect(twice.status).toBe(409)
    expect(twice.body.error.code).toBe("ACTION_IN_FLIGHT")
    const unknown = await root.post(`/api/admin/bot-actions/${crypto.randomUUID()}/retry`)
    expect(unknown.status).toBe(404)
    expect((await claimOne(action.id)).attempt).toBe(1)
  })

  test("retryable failures run out of attempts (BUGBOTS_BOT_ACTION_MAX_ATTEMPTS) into FAILED", async () => {
    const action = await enqueueAction(svc.sql, {}, 3)
    for (let attempt = 1; attempt <= 3; attempt++) {
      await svc.sql`update jobs set run_at = now() where id = ${action.id} and status = 'pending'`
      const claimed = await claimOne(action.id)
      expect(claimed.attempt).toBe(attempt)
      const settled = await report(action.id, { lease_token: claimed.lease_token, outcome: "RETRYABLE_FAILURE", error: `try ${attempt}` })
      expect(settled.status).toBe(200)
      expect(settled.body.attempts).toBe(attempt)
      expect(settled.body.status).toBe(attempt < 3 ? "PENDING" : "FAILED")
    }
  })

  test("a stale, wrong or released lease is 409 LEASE_LOST and changes nothing", async () => {
    const action = await enqueueAction(svc.sql)
    const claimed = await claimOne(action.id, 10)
    const wrong = await report(action.id, { lease_token: crypto.randomUUID(), outcome: "SUCCEEDED" })
    expect(wrong.status).toBe(409)
    expect(wrong.body.error.code).toBe("LEASE_LOST")
    const garbage = await report(action.id, { lease_token: "not-a-token", outcome: "SUCCEEDED" })
    expect(garbage.status).toBe(409)
    // The lease runs out (its end moved into the past rather than waiting 10 s).
    await svc.sql`update jobs set lease_expires_at = now() - interval '1 second' where id = ${action.id}`
    const before = await actionRow(svc.sql, action.id)
    const stale = await report(action.id, { lease_token: claimed.lease_token, outcome: "SUCCEEDED" })
    expect(stale.status).toBe(409)
    expect(stale.body.error.code).toBe("LEASE_LOST")
    const after = await actionRow(svc.sql, action.id)
    expect(after!.status === "running" || after!.status === "pending").toBe(true)
    expect(after!.result).toBeNull()
    expect(after!.status === "running" ? after!.lease_token : before!.lease_token).toBe(before!.lease_token)
    // The sweeper gives it back (a failed attempt); the next claimer gets a new lease the old one cannot settle.
    const swept = await eventually(async () => {
      const row = await actionRow(svc.sql, action.id)
      return row?.status === "pending" ? row : undefined
    }, 5000, "the sweeper")
    expect(swept.attempts).toBe(1)
    expect(swept.last_error).toContain("lease ran out")
    await svc.sql`update jobs set run_at = now() where id = ${action.id} and status = 'pending'`
    const reclaimed = await claimOne(action.id)
    expect(reclaimed.lease_token).not.toBe(claimed.lease_token)
    expect((await report(action.id, { lease_token: claimed.lease_token, outcome: "SUCCEEDED" })).status).toBe(409)
    expect((await report(action.id, { lease_token: reclaimed.lease_token, outcome: "SUCCEEDED" })).body.status).toBe("DONE")
    expect((await report(crypto.randomUUID(), { lease_token: reclaimed.lease_token, outcome: "SUCCEEDED" })).status).toBe(404)
  })

  test("actions on one comment are handed out one at a time, oldest first", async () => {
    const first = await enqueueAction(svc.sql, { repo_full_name: "serial/repo", number: 3, marker: "gate", body: "one" })
    const second = await enqueueAction(svc.sql, { repo_full_name: "serial/repo", number: 3, marker: "gate", body: "two" })
    const other = await enqueueAction(svc.sql, { repo_full_name: "serial/repo", number: 3, marker: "bug" })
    const claimed = await claim({ limit: 50 })
    const ids = claimed.body.actions.map((a: any) => a.id)
    expect(ids).toContain(first.id)
    expect(ids).toContain(other.id)
    expect(ids).not.toContain(second.id)
    expect((await claim({ limit: 50 })).body.actions.map((a: any) => a.id)).not.toContain(second.id)
    const held = claimed.body.actions.find((a: any) => a.id === first.id)
    expect((await report(first.id, { lease_token: held.lease_token, outcome: "SUCCEEDED" })).status).toBe(200)
    const next = await claim({ limit: 50 })
    expect(next.body.actions.map((a: any) => a.id)).toContain(second.id)
    await svc.sql`update jobs set status = 'pending', lease_token = null, lease_expires_at = null where kind = 'github.action' and status = 'running'`
  })

  test("10 concurrent claimers never receive the same action", async () => {
    await svc.sql`update jobs set status = 'done', lease_token = null, lease_expires_at = null where kind = 'github.action' and status in ('pending', 'running')`
    const ids = new Set<string>()
    for (let i = 0; i < 60; i++) ids.add((await enqueueAction(svc.sql)).id)
    const rounds = await Promise.all(Array.from({ length: 10 }, () => claim({ limit: 10 })))
    const claimed = rounds.flatMap((r) => {
      expect(r.status).toBe(200)
      return r.body.actions.map((a: any) => a.id as string)
    })
    expect(new Set(claimed).size).toBe(claimed.length)
    expect(claimed.length).toBe(60)
    for (const id of claimed) expect(ids.has(id)).toBe(true)
    const empty = await claim({})
    expect(empty.body).toEqual({ actions: [] })
  })
})

describe("admin", () => {
  test("only superusers list and retry bot actions", async () => {
    const user = await makeUser(svc)
    expect((await user.api.get("/api/admin/bot-actions")).status).toBe(403)
    expect((await user.api.post(`/api/admin/bot-actions/${crypto.randomUUID()}/retry`)).status).toBe(403)
    expect((await client(svc.baseUrl).get("/api/admin/bot-actions")).status).toBe(401)
    const bad = await root.get("/api/admin/bot-actions?status=RUNNING")
    expect(bad.status).toBe(400)
  })
})
