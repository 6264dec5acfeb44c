import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { client, type Client } from "./lib/Client.js"
import { makeAgent, makeUser, makeVillage } from "./lib/Fixtures.js"
import { eventually } from "./lib/GitHub.js"
import { startService, type TestService } from "./lib/Service.js"

/** Contract §9 over HTTP: ingest keys, the Sentry protocol (with real SDKs), grouping, regressions, triage. */

let svc: TestService
let root: Client
let village: Awaited<ReturnType<typeof makeVillage>>

beforeAll(async () => {
  svc = await startService({ env: { BUGBOTS_INGEST_RATE_LIMIT: "1000" } })
  root = client(svc.baseUrl, svc.rootToken)
  village = await makeVillage(svc)
})
afterAll(() => svc.stop())

const newKey = async (repoId: string, name = "app") => {
  const created = await root.post(`/api/repos/${repoId}/ingest-keys`, { name })
  expect(created.status).toBe(201)
  return created.body as { id: string; public_key: string; project_id: number; dsn: string }
}

const newRepo = async () => {
  const repo = await root.post(`/api/villages/${village.id}/repos`, { full_name: `org/app-${crypto.randomUUID().slice(0, 8)}` })
  expect(repo.status).toBe(201)
  return repo.body.id as string
}

const envelope = (header: object, items: ReadonlyArray<[object, string | Uint8Array]>) =>
  Buffer.concat([
    Buffer.from(JSON.stringify(header)),
    ...items.flatMap(([h, payload]) => [Buffer.from("\n"), Buffer.from(JSON.stringify(h)), Buffer.from("\n"), Buffer.from(payload)])
  ])

const eventId = () => crypto.randomUUID().replaceAll("-", "")

const errorEvent = (fields: Record<string, unknown> = {}) => ({
  event_id: eventId(),
  level: "error",
  platform: "node",
  release: "shop@1.0.0",
  environment: "production",
  contexts: { trace: { trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", span_id: "00f067aa0ba902b7" } },
  exception: {
    values: [
      {
        type: "TypeError",
        value: "Cannot read properties of undefined (reading 'total')",
        stacktrace: { frames: [{ filename: "/app/src/cart.ts", module: "src:cart.ts", function: "cartTotal", lineno: 12, in_app: true }] }
      }
    ]
  },
  ...fields
})

const sendEnvelope = (projectId: number, key: string | undefined, body: Uint8Array, headers: Record<string, string> = {}) =>
  fetch(`${svc.baseUrl}/api/${projectId}/envelope/${key === undefined ? "" : `?sentry_key=${key}`}`, { method: "POST", headers, body: body as Uint8Array<ArrayBuffer> })

const reply = async (response: Response) => ({ status: response.status, headers: response.headers, body: await response.json() as any })

const bugsOf = async (repoId: string) => {
  const page = await root.get(`/api/villages/${village.id}/bugs?repo_id=${repoId}&source=report&limit=200`)
  return page.body.items as Array<any>
}

/** Waits for the counters to catch up (they are counted in batches, every 200 ms). */
const counted = (repoId: string, expected: ReadonlyArray<number>) =>
  eventually(
    async () => {
      const bugs = await bugsOf(repoId)
      const counts = bugs.map((b) => b.occurrences).sort((a, b) => b - a)
      return JSON.stringify(counts) === JSON.stringify(expected) ? bugs : undefined
    },
    5000,
    `counts ${expected.join(", ")}`
  )

describe("ingest keys", () => {
  test("created with a DSN, listed without the key, revoked; only admins and maintainers manage them", async () => {
    const repoId = await newRepo()
    const key = await newKey(repoId)
    expect(key.public_key).toMatch(/^[0-9a-f]{32}$/)
    expect(key.project_id).toBeGreaterThan(0)
    expect(key.dsn).toBe(`http://${key.public_key}@127.0.0.1:${svc.port}/${key.project_id}`)
    const listed = await root.get(`/api/repos/${repoId}/ingest-keys`)
    expect(listed.body.items).toEqual([expect.objectContaining({ id: key.id, public_key_prefix: key.public_key.slice(0, 8), revoked_at: null })])
    expect(JSON.stringify(listed.body)).not.toContain(key.public_key)
    const triager = await makeUser(svc, { village: village.id, role: "triager" })
    expect((await triager.api.get(`/api/repos/${repoId}/ingest-keys`)).status).toBe(200)
    expect((await triager.api.post(`/api/repos/${repoId}/ingest-keys`, { name: "x" })).status).toBe(403)
    expect((await (await makeUser(svc)).api.get(`/api/repos/${repoId}/ingest-keys`)).status).toBe(404)
    expect((await root.del(`/api/repos/${repoId}/ingest-keys/${key.id}`)).status).toBe(204)
    expect((await root.del(`/api/repos/${repoId}/ingest-keys/${key.id}`)).status).toBe(404)
  })
})

describe("a real Sentry SDK, end to end", () => {
  for (const sdk of ["node", "bun"] as const) {
    test(`@sentry/${sdk}: the same error twice and another once make two bugs, counted 2 and 1`, async () => {
      const repoId = await newRepo()
      const key = await newKey(repoId)
      const app = Bun.spawn(["bun", path.join(import.meta.dir, "lib/SentryApp.ts"), sdk, key.dsn, "errors"], { stdout: "pipe", stderr: "inherit" })
      expect(await app.exited).toBe(0)
      const { ids } = JSON.parse(await new Response(app.stdout).text()) as { ids: Array<string> }
      expect(ids).toHaveLength(3)
      const bugs = await counted(repoId, [2, 1])
      const twice = bugs.find((b) => b.occurrences === 2)!
      expect(twice).toMatchObject({ provider: "report", source: "report", status: "open", last_release: "shop@1.0.0", environment: "test" })
      expect(twice.title).toContain("TypeError")
      expect(twice.trace_id).toMatch(/^[0-9a-f]{32}$/)
      const occurrences = (await root.get(`/api/bugs/${twice.id}/occurrences`)).body.items
      expect(occurrences.map((o: any) => o.event_id).sort()).toEqual(ids.slice(0, 2).sort())
      expect(occurrences[0]).toMatchObject({ release: "shop@1.0.0", environment: "test" })
      expect(occurrences[0].trace_id).toMatch(/^[0-9a-f]{32}$/)
      expect(occurrences[0].event.exception.values[0].type).toBe("TypeError")
    }, 30_000)
  }

  test("@sentry/node gzips an event over 32 KiB, and it is stored", async () => {
    const repoId = await newRepo()
    const key = await newKey(repoId)
    const app = Bun.spawn(["bun", path.join(import.meta.dir, "lib/SentryApp.ts"), "node", key.dsn, "big"], { stdout: "pipe", stderr: "inherit" })
    expect(await app.exited).toBe(0)
    const [bug] = await counted(repoId, [1])
    const [occurrence] = (await root.get(`/api/bugs/${bug.id}/occurrences`)).body.items
    expect(occurrence.event.exception.values[0].value.length).toBeGreaterThan(40_000)
  }, 30_000)
})

describe("the Sentry protocol, raw", () => {
  test("keys: missing or wrong 401, another project's 403, revoked 401; X-Sentry-Auth works like the query", async () => {
    const repoId = await newRepo()
    const key = await newKey(repoId)
    const other = await newKey(await newRepo())
    const body = envelope({}, [[{ type: "event" }, JSON.stringify(errorEvent())]])
    const missing = await reply(await sendEnvelope(key.project_id, undefined, body))
    expect(missing.status).toBe(401)
    expect(missing.body.error.code).toBe("UNAUTHENTICATED")
    expect((await sendEnvelope(key.project_id, "0".repeat(32), body)).status).toBe(401)
    const foreign = await reply(await sendEnvelope(key.project_id, other.public_key, body))
    expect(foreign.status).toBe(403)
    expect(foreign.body.error.code).toBe("FORBIDDEN")
    const viaHeader = await fetch(`${svc.baseUrl}/api/${key.project_id}/envelope`, {
      method: "POST",
      headers: { "x-sentry-auth": `Sentry sentry_version=7, sentry_client=raven-python/6.10.0, sentry_key=${key.public_key}` },
      body
    })
    expect(viaHeader.status).toBe(200)
    await root.del(`/api/repos/${repoId}/ingest-keys/${key.id}`)
    const revoked = await eventually(async () => {
      const status = (await sendEnvelope(key.project_id, key.public_key, body)).status
      return status === 401 ? status : undefined
    }, 2000, "the revoked key to be refused")
    expect(revoked).toBe(401)
  })

  test("an envelope: the event stored, other items accepted and ignored, 200 with its id; the same event_id counts once", async () => {
    const repoId = await newRepo()
    const key = await newKey(repoId)
    const event = errorEvent()
    const body = envelope({ event_id: event.event_id, sent_at: new Date().toISOString() }, [
      [{ type: "session" }, JSON.stringify({ sid: crypto.randomUUID(), status: "ok" })],
      [{ type: "event" }, JSON.stringify(event)],
      [{ type: "client_report" }, JSON.stringify({ discarded_events: [] })],
      [{ type: "attachment", length: 5, filename: "a.txt" }, "hello"],
      [{ type: "something_new" }, "{}"]
    ])
    const first = await reply(await sendEnvelope(key.project_id, key.public_key, body))
    expect(first).toMatchObject({ status: 200, body: { id: event.event_id } })
    const again = await reply(await sendEnvelope(key.project_id, key.public_key, body))
    expect(again).toMatchObject({ status: 200, body: { id: event.event_id } })
    const [bug] = await counted(repoId, [1])
    expect((await root.get(`/api/bugs/${bug.id}/occurrences`)).body.items).toHaveLength(1)

    const only = envelope({}, [[{ type: "transaction" }, "{}"], [{ type: "sessions" }, "{}"]])
    const ignored = await reply(await sendEnvelope(key.project_id, key.public_key, only))
    expect(ignored.status).toBe(200)
    expect(ignored.body.id).toMatch(/^[0-9a-f]{32}$/)
  })

  test("/store/ takes an event as the body; every content encoding; malformed bodies are 400; no content type needed", async () => {
    const repoId = await newRepo()
    const key = await newKey(repoId)
    const stored = await reply(
      await fetch(`${svc.baseUrl}/api/${key.project_id}/store/?sentry_key=${key.public_key}`, { method: "POST", body: JSON.stringify(errorEvent()) })
    )
    expect(stored.status).toBe(200)
    for (const [encoding, compress] of [
      ["gzip", zlib.gzipSync],
      ["deflate", zlib.deflateSync],
      ["br", zlib.brotliCompressSync]
    ] as const) {
      const event = errorEvent()
      const response = await sendEnvelope(key.project_id, key.public_key, compress(envelope({}, [[{ type: "event" }, JSON.stringify(event)]])), {
        "content-encoding": encoding
      })
      expect(await reply(response)).toMatchObject({ status: 200, body: { id: event.event_id } })
    }
    await counted(repoId, [4])
    for (const body of ["not an envelope", '{}\n{"type":"event"}\nnot json', '{}\n{"type":"event","length":500}\n{}']) {
      const refused = await reply(await sendEnvelope(key.project_id, key.public_key, Buffer.from(body)))
      expect(refused.status).toBe(400)
      expect(refused.body.error.code).toBe("MALFORMED_REPORT")
    }
    expect((await sendEnvelope(key.project_id, key.public_key, Buffer.from("xx"), { "content-encoding": "gzip" })).status).toBe(400)
  })

  test("413 above the limits: an event over 1 MiB, an envelope over 20 MiB decompressed", async () => {
    const key = await newKey(await newRepo())
    const big = errorEvent({ extra: { blob: "x".repeat(1024 * 1024 + 10) } })
    const eventTooLarge = await reply(await sendEnvelope(key.project_id, key.public_key, envelope({}, [[{ type: "event" }, JSON.stringify(big)]])))
    expect(eventTooLarge.status).toBe(413)
    expect(eventTooLarge.body.error.code).toBe("PAYLOAD_TOO_LARGE")
    const bomb = zlib.gzipSync(envelope({}, [[{ type: "attachment", length: 21 * 1024 * 1024 }, Buffer.alloc(21 * 1024 * 1024, 97)]]))
    expect(bomb.length).toBeLessThan(1024 * 1024)
    const envelopeTooLarge = await reply(await sendEnvelope(key.project_id, key.public_key, bomb, { "content-encoding": "gzip" }))
    expect(envelopeTooLarge.status).toBe(413)
  })

  test("over the key's rate limit: 429 with Retry-After and X-Sentry-Rate-Limits, in the envelope", async () => {
    const limited = await startService({ env: { BUGBOTS_INGEST_RATE_LIMIT: "3" } })
    try {
      const api = client(limited.baseUrl, limited.rootToken)
      const v = await api.post("/api/villages", { name: "limited" })
      const repo = await api.post(`/api/villages/${v.body.id}/repos`, { full_name: "org/limited" })
      const key = (await api.post(`/api/repos/${repo.body.id}/ingest-keys`, { name: "k" })).body
      const send = () =>
        fetch(`${limited.baseUrl}/api/${key.project_id}/envelope/?sentry_key=${key.public_key}`, {
          method: "POST",
          body: envelope({}, [[{ type: "event" }, JSON.stringify(errorEvent())]])
        })
      for (let i = 0; i < 3; i++) expect((await send()).status).toBe(200)
      const over = await reply(await send())
      expect(over.status).toBe(429)
      expect(over.body.error.code).toBe("RATE_LIMITED")
      const retryAfter = Number(over.headers.get("retry-after"))
      expect(retryAfter).toBeGreaterThan(0)
      expect(retryAfter).toBeLessThanOrEqual(60)
      expect(over.headers.get("x-sentry-rate-limits")).toBe(`${retryAfter}:error:key`)
    } finally {
      await limited.stop()
    }
  })
})

describe("the native endpoint", () => {
  test("an ingest key as the bearer, or a user's token with repo_id; the receipt says what happened", async () => {
    const repoId = await newRepo()
    const key = await newKey(repoId)
    const viaKey = client(svc.baseUrl, key.public_key)
    const report = { message: "checkout failed for cart 8812", component: "checkout", route: "/checkout", severity: "high", release: "web@2.0.0" }
    const first = await viaKey.post("/api/reports", report)
    expect(first.status).toBe(201)
    expect(first.body).toMatchObject({ new_bug: true, regressed: false })
    const second = await root.post("/api/reports", { ...report, message: "checkout failed for cart 17", repo_id: repoId })
    expect(second.body).toMatchObject({ bug_id: first.body.bug_id, fingerprint: first.body.fingerprint, new_bug: false })
    const bug = (await root.get(`/api/bugs/${first.body.bug_id}`)).body
    expect(bug).toMatchObject({ severity: "high", source: "report", provider: "report", last_release: "web@2.0.0" })
    expect(Date.parse(bug.sla_due_at) - Date.parse(bug.created_at)).toBe(24 * 3600 * 1000)
    const outsider = await makeUser(svc)
    expect((await outsider.api.post("/api/reports", { ...report, repo_id: repoId })).status).toBe(404)
    expect((await client(svc.baseUrl, "not-a-key").post("/api/reports", report)).status).toBe(401)
    expect((await root.post("/api/reports", report)).status).toBe(404)
    expect((await viaKey.post("/api/reports", { ...report, message: "bad\u0000" })).status).toBe(400)
  })
})

describe("grouping, merge and unmerge", () => {
  test("the grouping explains itself; a merge is learnt, an unmerge splits a fingerprint back out", async () => {
    const repoId = await newRepo()
    const key = await newKey(repoId)
    const viaKey = client(svc.baseUrl, key.public_key)
    const a = (await viaKey.post("/api/reports", { message: "a", exception: { type: "TypeError", value: "x is undefined", frames: [{ module: "src:a.ts", function: "a", lineno: 1, in_app: true }] } })).body
    const b = (await viaKey.post("/api/reports", { message: "b", exception: { type: "TypeError", value: "x is undefined", frames: [{ module: "src:b.ts", function: "b", lineno: 1, in_app: true }] } })).body
    expect(a.bug_id).not.toBe(b.bug_id)
    const grouping = (await root.get(`/api/bugs/${a.bug_id}/grouping`)).body
    expect(grouping.fingerprint).toBe(a.fingerprint)
    expect(grouping.components.find((c: any) => c.name === "frames")).toEqual({ name: "frames", values: ["src:a.ts a"], contributed: true })

    const merged = await root.post(`/api/bugs/${b.bug_id}/merge`, { into: a.bug_id })
    expect(merged.status).toBe(200)
    expect(merged.body).toMatchObject({ status: "closed", duplicate_of_id: a.bug_id })
    const events = (await root.get(`/api/bugs/${b.bug_id}/events`)).body.items
    expect(events.at(-1)).toMatchObject({ kind: "merged", to_status: "closed", data: { into: a.bug_id } })
    // Learnt: b's next report lands on a.
    const later = (await viaKey.post("/api/reports", { message: "b", exception: { type: "TypeError", value: "x is undefined", frames: [{ module: "src:b.ts", function: "b", lineno: 9, in_app: true }] } })).body
    expect(later.bug_id).toBe(a.bug_id)
    expect((await root.post(`/api/bugs/${a.bug_id}/merge`, { into: a.bug_id })).status).toBe(409)

    await counted(repoId, [2, 1])
    const split = await root.post(`/api/bugs/${a.bug_id}/unmerge`, { fingerprint: b.fingerprint })
    expect(split.status).toBe(201)
    expect(split.body).toMatchObject({ provider: "report", occurrences: 1 })
    expect((await root.get(`/api/bugs/${a.bug_id}`)).body.occurrences).toBe(1)
    const again = (await viaKey.post("/api/reports", { message: "b", exception: { type: "TypeError", value: "x is undefined", frames: [{ module: "src:b.ts", function: "b", lineno: 2, in_app: true }] } })).body
    expect(again.bug_id).toBe(split.body.id)
    expect((await root.post(`/api/bugs/${a.bug_id}/unmerge`, { fingerprint: a.fingerprint })).status).toBe(409)
  })
})

describe("regressions", () => {
  const report = (viaKey: Client, release: string) =>
    viaKey.post("/api/reports", { message: "stock went negative", exception: { type: "StockError", value: "negative stock" }, release })

  test("a report on a resolved bug reopens it (regressed); closed never reopens; resolved_in_release holds it until a later release", async () => {
    const repoId = await newRepo()
    const viaKey = client(svc.baseUrl, (await newKey(repoId)).public_key)
    const first = (await report(viaKey, "v1")).body
    const bugId = first.bug_id

    expect((await root.put(`/api/bugs/${bugId}/status`, { status: "resolved" })).status).toBe(200)
    const regressed = (await report(viaKey, "v1")).body
    expect(regressed).toMatchObject({ bug_id: bugId, regressed: true })
    const reopened = (await root.get(`/api/bugs/${bugId}`)).body
    expect(reopened).toMatchObject({ status: "open", resolved_at: null })
    const events = (await root.get(`/api/bugs/${bugId}/events`)).body.items
    expect(events.at(-1)).toMatchObject({ kind: "regressed", from_status: "resolved", to_status: "open", actor_type: "system", data: { release: "v1" } })
    const [update] = await svc.sql`select event from realtime_events where bug_id = ${bugId} order by id desc limit 1`
    expect(update.event).toBe("bug_bot_update")

    // Resolved in v2: reports of v1 and v2 keep it resolved; v3, first seen later, reopens it.
    await report(viaKey, "v2")
    expect((await root.put(`/api/bugs/${bugId}/status`, { status: "resolved", resolved_in_release: "v2" })).body.resolved_in_release).toBe("v2")
    expect((await report(viaKey, "v1")).body.regressed).toBe(false)
    expect((await report(viaKey, "v2")).body.regressed).toBe(false)
    expect((await root.get(`/api/bugs/${bugId}`)).body.status).toBe("resolved")
    expect((await report(viaKey, "v3")).body.regressed).toBe(true)
    expect((await root.get(`/api/bugs/${bugId}`)).body).toMatchObject({ status: "open", resolved_in_release: null })

    // Closed: never reopens by itself, its counts keep growing.
    await root.put(`/api/bugs/${bugId}/status`, { status: "closed" })
    expect((await report(viaKey, "v4")).body.regressed).toBe(false)
    const closed = await eventually(async () => {
      const bug = (await root.get(`/api/bugs/${bugId}`)).body
      return bug.occurrences === 7 ? bug : undefined
    }, 5000, "7 occurrences")
    expect(closed).toMatchObject({ status: "closed", last_release: "v4" })
  })
})

describe("concurrency", () => {
  test("20 concurrent reports of a new fingerprint make one bug, counted 20", async () => {
    const repoId = await newRepo()
    const key = await newKey(repoId)
    const event = () => envelope({}, [[{ type: "event" }, JSON.stringify(errorEvent({ exception: { values: [{ type: "StormError", value: "boom" }] } }))]])
    const replies = await Promise.all(Array.from({ length: 20 }, () => sendEnvelope(key.project_id, key.public_key, event())))
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200))
    const [bug] = await counted(repoId, [20])
    const created = (await root.get(`/api/bugs/${bug.id}/events`)).body.items.filter((e: any) => e.kind === "created")
    expect(created).toHaveLength(1)
  })
})

describe("triage", () => {
  test("sla_due_at follows severity by the village's policy; PATCH edits triage fields with one edited event", async () => {
    const repoId = await newRepo()
    const bug = (await root.post(`/api/villages/${village.id}/bugs`, { repo_id: repoId, title: "t", severity: "critical" })).body
    expect(Date.parse(bug.sla_due_at) - Date.parse(bug.created_at)).toBe(4 * 3600 * 1000)
    const patched = await root.patch(`/api/bugs/${bug.id}`, {
      severity: "low",
      resolution_notes: "fixed in the cart service",
      commit_shas: ["9fceb02", "a1b2c3d4e5f6"],
      expected_version: bug.version
    })
    expect(patched.status).toBe(200)
    expect(patched.body).toMatchObject({ severity: "low", resolution_notes: "fixed in the cart service", commit_shas: ["9fceb02", "a1b2c3d4e5f6"], version: 2 })
    expect(Date.parse(patched.body.sla_due_at) - Date.parse(bug.created_at)).toBe(7 * 24 * 3600 * 1000)
    const [edited] = (await root.get(`/api/bugs/${bug.id}/events`)).body.items.slice(-1)
    expect(edited).toMatchObject({ kind: "edited", data: { changes: { severity: { from: "critical", to: "low" } } } })
    expect((await root.patch(`/api/bugs/${bug.id}`, { title: "x", expected_version: 1 })).status).toBe(409)
    expect((await root.patch(`/api/bugs/${bug.id}`, { commit_shas: ["not a sha"] })).status).toBe(400)
    const agent = await makeAgent(svc, village.id)
    expect((await agent.api.patch(`/api/bugs/${bug.id}`, { title: "mine" })).status).toBe(403)
  })

  test("the village's SLA policy: read by members, changed by admins; new bugs and new severities follow it", async () => {
    const own = await makeVillage(svc)
    const before = await root.get(`/api/villages/${own.id}/settings`)
    expect(before.body).toMatchObject({ village_id: own.id, sla_seconds: { critical: 14400, high: 86400, medium: 259200, low: 604800 } })
    const old = (await root.post(`/api/villages/${own.id}/bugs`, { repo_id: own.repoId, title: "t", severity: "high" })).body

    const updated = await root.put(`/api/villages/${own.id}/settings`, { sla_seconds: { high: 3600 } })
    expect(updated.status).toBe(200)
    expect(updated.body.sla_seconds).toEqual({ critical: 14400, high: 3600, medium: 259200, low: 604800 })
    const bug = (await root.post(`/api/villages/${own.id}/bugs`, { repo_id: own.repoId, title: "t", severity: "high" })).body
    expect(Date.parse(bug.sla_due_at) - Date.parse(bug.created_at)).toBe(3600 * 1000)
    expect((await root.get(`/api/bugs/${old.id}`)).body.sla_due_at).toBe(old.sla_due_at)

    expect((await root.put(`/api/villages/${own.id}/settings`, { sla_seconds: { high: 5 } })).status).toBe(400)
    expect((await root.put(`/api/villages/${own.id}/settings`, { sla_seconds: { urgent: 3600 } })).status).toBe(400)
    const agent = await makeAgent(svc, own.id)
    expect((await agent.api.get(`/api/villages/${own.id}/settings`)).status).toBe(200)
    expect((await agent.api.put(`/api/villages/${own.id}/settings`, { sla_seconds: { high: 7200 } })).status).toBe(403)
    expect((await root.get(`/api/villages/${own.id}/settings`)).body.sla_seconds.high).toBe(3600)
  })
})
