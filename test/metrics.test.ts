import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { client } from "./lib/Client.js"
import { makeAgent, makeBug, makeVillage } from "./lib/Fixtures.js"
import { type Family, parsePrometheus, sampleValue } from "./lib/Prometheus.js"
import { startService, type TestService } from "./lib/Service.js"
import { connectWs } from "./lib/Ws.js"

/** `GET /metrics` (contract §12), read by a real Prometheus text parser after known traffic. */

const metricsToken = "metrics-secret-token"
let svc: TestService

beforeAll(async () => {
  svc = await startService({ env: { BUGBOTS_METRICS_TOKEN: metricsToken } })
})
afterAll(async () => {
  await svc.stop()
})

const scrape = async (): Promise<ReadonlyArray<Family>> => {
  const response = await fetch(`${svc.baseUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })
  expect(response.status).toBe(200)
  expect(response.headers.get("content-type")).toStartWith("text/plain; version=0.0.4")
  return parsePrometheus(await response.text())
}

const until = async <A>(read: () => Promise<A>, ok: (a: A) => boolean, what: string) => {
  for (let i = 0; i < 100; i++) {
    const value = await read()
    if (ok(value)) return value
    await Bun.sleep(100)
  }
  throw new Error(`never: ${what}`)
}

describe("GET /metrics", () => {
  test("needs BUGBOTS_METRICS_TOKEN when set: none or a wrong one is 401 in the envelope", async () => {
    const variants: Array<Record<string, string>> = [{}, { authorization: "Bearer wrong" }, { authorization: `Bearer ${metricsToken}x` }]
    for (const headers of variants) {
      const response = await fetch(`${svc.baseUrl}/metrics`, { headers })
      expect(response.status).toBe(401)
      const body = (await response.json()) as { error: { code: string; request_id: string } }
      expect(body.error.code).toBe("UNAUTHENTICATED")
      expect(body.error.request_id).toBeString()
    }
  })

  test("HTTP series by route template, never the raw path; histogram buckets; process, queue, lease, report and realtime series", async () => {
    const first = await makeVillage(svc)
    const second = await makeVillage(svc)
    const before = await scrape()
    const listRoute = { method: "GET", route: "/api/villages/:id/bugs" }
    const root = client(svc.baseUrl, svc.rootToken)

    for (const village of [first, second, first]) expect((await root.get(`/api/villages/${village.id}/bugs`)).status).toBe(200)
    expect((await root.get(`/api/bugs/${crypto.randomUUID()}`)).status).toBe(404)
    expect((await root.get("/no/such/route")).status).toBe(404)

    // A bug claimed by an agent holds a lease; its creation is a realtime event.
    const bug = await makeBug(root, first.id, first.repoId, { severity: "high" })
    const agent = await makeAgent(svc, first.id)
    const claim = await agent.api.post("/api/agents/claim", { lease_seconds: 120 })
    expect(claim.status).toBe(200)
    expect(claim.body.bug.id).toBe(bug.id)

    const key = await root.post(`/api/repos/${first.repoId}/ingest-keys`, { name: "metrics" })
    expect(key.status).toBe(201)
    const report = await client(svc.baseUrl, key.body.public_key).post("/api/reports", { message: "TypeError: x is undefined" })
    expect(report.status).toBe(201)

    // Bot actions are jobs of kind github.action; the gauge reads the jobs table, whoever wrote them.
    await svc.sql`insert into jobs (kind, key, payload, status, max_attempts, finished_at)
                  values ('github.action', ${crypto.randomUUID()}, '{}'::jsonb, 'failed', 1, now())`

    const socket = await connectWs(svc.baseUrl, svc.rootToken)
    const after = await until(scrape, (families) => sampleValue(families, "bugbots_ws_connections") === 1, "the socket counted")
    socket.close()

    const delta = (name: string, labels: Record<string, string> = {}) => sampleValue(after, name, labels) - sampleValue(before, name, labels)
    expect(delta("http_requests_total", { ...listRoute, status: "200" })).toBe(3)
    expect(delta("http_requests_total", { method: "GET", route: "/api/bugs/:id", status: "404" })).toBe(1)
    expect(delta("http_requests_total", { method: "GET", route: "unmatched", status: "404" })).toBe(1)
    expect(delta("http_requests_total", { method: "POST", route: "/api/agents/claim", status: "200" })).toBe(1)
    // No series is labelled with an id.
    const routes = after.flatMap((f) => f.samples.map((s) => s.labels.route)).filter((r) => r !== undefined)
    expect(routes.length).toBeGreaterThan(0)
    for (const route of routes) expect(route).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/)

    const requests = after.find((f) => f.name === "http_requests")!
    expect(requests.type).toBe("counter")
    const duration = after.find((f) => f.name === "http_request_duration_seconds")!
    expect(duration.type).toBe("histogram")
    const buckets = duration.samples.filter((s) => s.name === "http_request_duration_seconds_bucket" && s.labels.route === listRoute.route && s.labels.method === "GET")
    expect(buckets.map((b) => b.labels.le)).toEqual(["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"])
    const counts = buckets.map((b) => b.value)
    expect(counts).toEqual([...counts].sort((a, b) => a - b))
    expect(delta("http_request_duration_seconds_count", listRoute)).toBe(3)
    expect(counts.at(-1)).toBe(sampleValue(after, "http_request_duration_seconds_count", listRoute))
    expect(delta("http_request_duration_seconds_sum", listRoute)).toBeGreaterThan(0)

    expect(delta("bugbots_reports_ingested_total")).toBe(1)
    expect(sampleValue(after, "bugbots_bot_actions", { status: "failed" })).toBe(1)
    expect(sampleValue(after, "bugbots_bot_actions", { status: "pending" })).toBe(0)
    expect(after.find((f) => f.name === "bugbots_webhook_deliveries")!.samples.map((s) => s.labels.status).sort()).toEqual(
      ["done", "failed", "ignored", "pending", "running"]
    )
    expect(sampleValue(after, "bugbots_leases_active", { kind: "bug" })).toBe(1)
    expect(delta("bugbots_realtime_events_total")).toBeGreaterThanOrEqual(1)
    expect(sampleValue(after, "process_cpu_seconds_total")).toBeGreaterThan(0)
    expect(sampleValue(after, "process_resident_memory_bytes")).toBeGreaterThan(10_000_000)
    expect(after.find((f) => f.name === "process_cpu_seconds")!.type).toBe("counter")

    await until(scrape, (families) => sampleValue(families, "bugbots_ws_connections") === 0, "the closed socket uncounted")
  })
})
