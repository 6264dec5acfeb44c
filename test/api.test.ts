import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Schema } from "effect"
import { Bug } from "../src/Domain/Bug.js"
import { Page } from "../src/Domain/Page.js"
import { client, type Client } from "./lib/Client.js"
import { makeAgent, makeBug, makeVillage } from "./lib/Fixtures.js"
import { freshDatabase, startService, type TestService } from "./lib/Service.js"
import { tcpProxy } from "./lib/TcpProxy.js"

let svc: TestService
let root: Client
let village: Awaited<ReturnType<typeof makeVillage>>

beforeAll(async () => {
  svc = await startService({ env: { BUGBOTS_MAX_BODY_BYTES: "4096" } })
  root = client(svc.baseUrl, svc.rootToken)
  village = await makeVillage(svc)
})
afterAll(() => svc.stop())

const expectEnvelope = (reply: { status: number; body: any; headers: Headers }, status: number, code: string) => {
  expect(reply.status).toBe(status)
  expect(reply.body.error.code).toBe(code)
  expect(typeof reply.body.error.message).toBe("string")
  expect(reply.body.error.request_id).toBe(reply.headers.get("x-request-id")!)
}

describe("wire conventions", () => {
  test("x-request-id is echoed when sent and generated otherwise", async () => {
    const echoed = await client(svc.baseUrl).get("/healthz", { "x-request-id": "abc-123" })
    expect(echoed.headers.get("x-request-id")).toBe("abc-123")
    const generated = await client(svc.baseUrl).get("/healthz")
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
  })

  test("a malformed id is 400, a well-formed unknown id is 404", async () => {
    expectEnvelope(await root.get("/api/bugs/not-a-uuid"), 400, "VALIDATION_FAILED")
    expectEnvelope(await root.get(`/api/bugs/${crypto.randomUUID()}`), 404, "NOT_FOUND")
    expectEnvelope(await root.post(`/api/villages/${village.id}/bugs`, { repo_id: "nope", title: "x" }), 400, "VALIDATION_FAILED")
    expectEnvelope(await root.post(`/api/villages/${village.id}/bugs`, { repo_id: crypto.randomUUID(), title: "x" }), 404, "NOT_FOUND")
    expectEnvelope(await root.get(`/api/villages/${crypto.randomUUID()}/bugs`), 404, "NOT_FOUND")
  })

  test("schema failures, bad JSON, wrong media type, oversized bodies and unknown routes use the envelope", async () => {
    const invalid = await root.put(`/api/bugs/${crypto.randomUUID()}/status`, { status: "sleeping" })
    expectEnvelope(invalid, 400, "VALIDATION_FAILED")
    expect(Array.isArray(invalid.body.error.details)).toBe(true)
    const empty = await root.call("POST", "/api/villages", undefined, { "content-type": "application/json" })
    expectEnvelope(empty, 400, "VALIDATION_FAILED")
    const broken = await fetch(`${svc.baseUrl}/api/villages`, {
      method: "POST",
      headers: { authorization: `Bearer ${svc.rootToken}`, "content-type": "application/json" },
      body: '{"name":'
    })
    const brokenBody = await broken.json()
    expect(broken.status).toBe(400)
    expect(brokenBody.error.code).toBe("BAD_REQUEST")
    const text = await fetch(`${svc.baseUrl}/api/villages`, {
      method: "POST",
      headers: { authorization: `Bearer ${svc.rootToken}`, "content-type": "text/plain" },
      body: "name=x"
    })
    expect(text.status).toBe(415)
    expect((await text.json()).error.code).toBe("UNSUPPORTED_MEDIA_TYPE")
    const big = await root.post("/api/villages", { name: "x".repeat(10_000) })
    expectEnvelope(big, 413, "PAYLOAD_TOO_LARGE")
    expectEnvelope(await client(svc.baseUrl).get("/nowhere"), 404, "NOT_FOUND")
  })

  test("a POST whose fields are all optional may come with no body", async () => {
    const agent = await makeAgent(svc, (await makeVillage(svc)).id)
    const claim = await fetch(`${svc.baseUrl}/api/agents/claim`, { method: "POST", headers: { authorization: `Bearer ${agent.token}` } })
    expect(claim.status).toBe(204)
  })

  test("list parameters are validated", async () => {
    expectEnvelope(await root.get(`/api/villages/${village.id}/bugs?limit=0`), 400, "VALIDATION_FAILED")
    expectEnvelope(await root.get(`/api/villages/${village.id}/bugs?limit=201`), 400, "VALIDATION_FAILED")
    expectEnvelope(await root.get(`/api/villages/${village.id}/bugs?cursor=garbage`), 400, "VALIDATION_FAILED")
    expectEnvelope(await root.get(`/api/villages/${village.id}/bugs?status=open,sleeping`), 400, "VALIDATION_FAILED")
    expectEnvelope(await root.get(`/api/villages/${village.id}/bugs?sort=title`), 400, "VALIDATION_FAILED")
  })

  test("timestamps are RFC 3339 UTC and fields snake_case", async () => {
    const bug = await makeBug(root, village.id, village.repoId)
    expect(bug.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
    expect(Object.keys(bug).sort()).toEqual(
      [
        "assigned_agent_id", "category", "created_at", "description", "id", "issue_id", "issue_number", "metadata", "provider",
        "repo_id", "resolved_at", "severity", "source", "status", "title", "updated_at", "version", "village_id",
        "occurrences", "first_seen", "last_seen", "last_release", "environment", "trace_id", "request_id", "release_sha",
        "sla_due_at", "resolution_notes", "commit_shas", "duplicate_of_id", "resolved_in_release"
      ].sort()
    )
    expect(bug).toMatchObject({ provider: "manual", source: "manual", issue_id: null, issue_number: null, status: "open", version: 1 })
  })

  test("conflicts on unique names are 409", async () => {
    const name = `org/dup-${crypto.randomUUID()}`
    expect((await root.post(`/api/villages/${village.id}/repos`, { full_name: name })).status).toBe(201)
    expectEnvelope(await root.post(`/api/villages/${village.id}/repos`, { full_name: name }), 409, "CONFLICT")
  })
})

describe("responses match their declared schemas", () => {
  // Some reads pass PostgreSQL's JSON through without encoding it: decoding each with the schema
  // its endpoint declares (strictly: no field missing, none extra) keeps the two from drifting apart.
  const strict = { onExcessProperty: "error" } as const

  test("GET /bugs/{id} and GET /villages/{id}/bugs decode with Bug and Page(Bug)", async () => {
    const agent = await makeAgent(svc, village.id)
    const bug = await makeBug(root, village.id, village.repoId, { severity: "high", description: "d", category: "c" })
    await makeBug(root, village.id, village.repoId)
    await makeBug(root, village.id, village.repoId)
    await root.put(`/api/bugs/${bug.id}/status`, { status: "resolved", agent_id: agent.id })
    const one = await root.get(`/api/bugs/${bug.id}`)
    expect(one.headers.get("content-type")).toStartWith("application/json")
    const decoded = Schema.decodeUnknownSync(Bug)(one.body, strict)
    expect(Schema.encodeSync(Bug)(decoded)).toEqual(one.body)
    const page = await root.get(`/api/villages/${village.id}/bugs?limit=2`)
    const decodedPage = Schema.decodeUnknownSync(Page(Bug))(page.body, strict)
    expect(Schema.encodeSync(Page(Bug))(decodedPage)).toEqual(page.body)
    expect(page.body.items.length).toBe(2)
    expect(typeof page.body.next_cursor).toBe("string")
  })

  test("a page's bug (built here from columns) is the bug GET answers (built by PostgreSQL), every field set", async () => {
    const agent = await makeAgent(svc, village.id)
    const bug = await makeBug(root, village.id, village.repoId, { severity: "critical", description: "d", category: "c" })
    await root.patch(`/api/bugs/${bug.id}`, { resolution_notes: "n", commit_shas: ["9fceb02"] })
    await root.put(`/api/bugs/${bug.id}/status`, { status: "resolved", agent_id: agent.id, resolved_in_release: "v1.2" })
    const sql = new Bun.SQL(svc.databaseUrl)
    // The columns no endpoint sets for a manual bug: an upstream id past 2^32, report telemetry.
    await sql`update bug_bots set issue_id = 98765432109, issue_number = 7, occurrences = 3, first_seen = '2026-01-02 03:04:05.678912+00',
      last_seen = now(), last_release = 'r', environment = 'e', trace_id = 't', request_id = 'q', release_sha = 's',
      metadata = '{"k": [1, "two", {"x": null}], "a": true}' where id = ${bug.id}`
    await sql.close()
    const one = (await root.get(`/api/bugs/${bug.id}`)).body
    const listed = (await root.get(`/api/villages/${village.id}/bugs?status=resolved&severity=critical&limit=100`)).body.items.find(
      (b: { id: string }) => b.id === bug.id
    )
    expect(Object.keys(listed)).toEqual(Object.keys(one))
    expect(listed).toEqual(one)
    expect(one).toMatchObject({ issue_id: 98765432109, first_seen: "2026-01-02T03:04:05.678Z", commit_shas: ["9fceb02"] })
  })
})

describe("health and description", () => {
  test("healthz and readyz need no auth", async () => {
    expect((await client(svc.baseUrl).get("/healthz")).body).toEqual({ status: "ok" })
    expect((await client(svc.baseUrl).get("/readyz")).body).toEqual({ status: "ok", database: "ok", migrations: "ok" })
  })

  test("/openapi.json is OpenAPI 3.1 describing every REST endpoint with the error envelope", async () => {
    const spec = (await client(svc.baseUrl).get("/openapi.json")).body
    expect(spec.openapi).toStartWith("3.1")
    for (const path of [
      "/api/users", "/api/users/{id}/tokens", "/api/me", "/api/villages", "/api/villages/{id}", "/api/villages/{id}/members/{user_id}",
      "/api/villages/{id}/repos", "/api/villages/{id}/agents", "/api/agents/{id}/tokens", "/api/agents/{id}/state",
      "/api/villages/{id}/bugs", "/api/bugs/{id}", "/api/bugs/{id}/assign", "/api/bugs/{id}/status", "/api/bugs/{id}/events",
      "/api/bugs/{id}/notes", "/healthz", "/readyz"
    ]) {
      expect(spec.paths[path]).toBeDefined()
    }
    const conflict = spec.paths["/api/bugs/{id}/status"].put.responses["409"]
    expect(conflict.content["application/json"].schema.$ref).toBe("#/components/schemas/ErrorEnvelope")
    expect(spec.components.securitySchemes.bearer.scheme).toBe("bearer")
    expect(spec.info.description).toContain("AGENT_REQUIRED")
  })

  test("/docs renders without the network (the viewer is inlined)", async () => {
    const docs = await fetch(`${svc.baseUrl}/docs`)
    expect(docs.status).toBe(200)
    const html = await docs.text()
    expect(html).toContain("<html")
    expect(html).not.toMatch(/<script[^>]+src="https?:/)
  })
})

describe("a database outage", () => {
  test("answers 503 with retry-after, then recovers", async () => {
    const db = await freshDatabase()
    const url = new URL(db.url)
    const proxy = await tcpProxy({ host: url.hostname, port: Number(url.port || 5432) })
    url.port = String(proxy.port)
    const outage = await startService({ databaseUrl: url.toString() })
    try {
      const api = client(outage.baseUrl, outage.rootToken)
      expect((await api.get("/api/villages")).status).toBe(200)
      proxy.cut()
      const down = await api.get("/api/villages")
      expectEnvelope(down, 503, "SERVICE_UNAVAILABLE")
      expect(Number(down.headers.get("retry-after"))).toBeGreaterThan(0)
      expect((await client(outage.baseUrl).get("/readyz")).status).toBe(503)
      proxy.restore()
      let recovered = 0
      for (let i = 0; i < 50 && recovered !== 200; i++) {
        recovered = (await api.get("/api/villages")).status
        if (recovered !== 200) await Bun.sleep(100)
      }
      expect(recovered).toBe(200)
    } finally {
      proxy.restore()
      await outage.stop()
      proxy.close()
    }
  })
})
