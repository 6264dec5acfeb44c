import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { spawnService, type ChildService } from "./lib/Child.js"
import { client } from "./lib/Client.js"
import { freshDatabase } from "./lib/Service.js"

/** `GET /api/admin/status` (contract §12) over instances that are separate processes on one database. */

let databaseUrl: string
let instances: Array<ChildService> = []
const heartbeat = "300 millis"
const settings = { BUGBOTS_INSTANCE_HEARTBEAT: heartbeat, BUGBOTS_LEADER_POLL: "200 millis" }

beforeAll(async () => {
  databaseUrl = (await freshDatabase()).url
  const first = spawnService(databaseUrl, settings)
  await first.ready()
  instances = [first, spawnService(databaseUrl, settings), spawnService(databaseUrl, settings)]
  await Promise.all(instances.map((i) => i.ready()))
}, 90_000)

afterAll(async () => {
  await Promise.all(instances.map((i) => i.kill()))
})

const statusVia = async (instance: ChildService) => {
  const reply = await client(instance.baseUrl, instance.rootToken).get("/api/admin/status")
  expect(reply.status).toBe(200)
  return reply.body as {
    instance_id: string
    instances: Array<{ id: string; pid: number; state: string; stopped_at: string | null; version: string; host: string }>
    queues: Array<Record<string, any>>
    leader: { instance_id: string; since: string } | null
    last_reconcile: unknown
    last_recovery: unknown
    bug_leases_active: number
    ws_connections: { this_instance: number; live_instances: number }
  }
}

const byPid = (status: Awaited<ReturnType<typeof statusVia>>, instance: ChildService) =>
  status.instances.find((i) => i.pid === instance.process.pid)

describe("GET /api/admin/status", () => {
  test("superusers only", async () => {
    const [a] = instances
    const root = client(a.baseUrl, a.rootToken)
    const user = await root.post("/api/users", { login: "not-a-superuser" })
    const token = await root.post(`/api/users/${user.body.id}/tokens`, { name: "test" })
    const reply = await client(a.baseUrl, token.body.token).get("/api/admin/status")
    expect(reply.status).toBe(403)
    expect(reply.body.error.code).toBe("FORBIDDEN")
    expect((await client(a.baseUrl).get("/api/admin/status")).status).toBe(401)
  })

  test("queues: depth by state, processing times of the last 5 minutes, live leases; kinds not in use show zeros", async () => {
    const sql = new Bun.SQL(databaseUrl)
    // Finished attempts of 1, 2, 3 and 4 seconds, one finished 10 minutes ago (outside the window).
    for (const [seconds, ago, status] of [[1, 10, "done"], [2, 20, "done"], [3, 30, "failed"], [4, 40, "done"], [9, 600, "done"]] as const) {
      await sql`insert into jobs (kind, key, payload, status, max_attempts, started_at, finished_at)
                values ('github.action', ${crypto.randomUUID()}, '{}'::jsonb, ${status}, 1,
                        now() - make_interval(secs => ${ago + seconds}), now() - make_interval(secs => ${ago}))`
    }
    // Held by a worker for an hour; and one queued for later (not due).
    await sql`insert into jobs (kind, key, payload, status, max_attempts, lease_token, lease_expires_at, started_at)
              values ('github.action', ${crypto.randomUUID()}, '{}'::jsonb, 'running', 1, gen_random_uuid(), now() + interval '1 hour', now())`
    await sql`insert into jobs (kind, key, payload, status, max_attempts, run_at)
              values ('github.action', ${crypto.randomUUID()}, '{}'::jsonb, 'pending', 1, now() + interval '1 hour')`
    await sql.close()

    const status = await statusVia(instances[0])
    expect(status.queues.map((q) => [q.queue, q.kind])).toEqual([
      ["webhook_deliveries", "github.delivery"],
      ["bot_actions", "github.action"],
      ["analyses", "analysis"],
      ["notifications", "notification"]
    ])
    const actions = status.queues[1]
    expect(actions.depth).toEqual({ pending: 1, running: 1, done: 4, failed: 1, ignored: 0 })
    expect(actions.oldest_due_age_seconds).toBeNull()
    expect(actions.durations_5m.finished).toBe(4)
    // percentile_cont over 1, 2, 3, 4 seconds: the median 2.5, the 95th percentile 3.85.
    expect(actions.durations_5m.p50_seconds).toBeCloseTo(2.5, 3)
    expect(actions.durations_5m.p95_seconds).toBeCloseTo(3.85, 3)
    expect(actions.active_leases).toBe(1)
    expect(status.queues[2]).toEqual({
      queue: "analyses",
      kind: "analysis",
      depth: { pending: 0, running: 0, done: 0, failed: 0, ignored: 0 },
      oldest_due_age_seconds: null,
      durations_5m: { finished: 0, p50_seconds: null, p95_seconds: null },
      active_leases: 0
    })
    // One instance leads (the leader lock), whichever asked; no GitHub App here, so no scheduled runs.
    expect(status.instances.map((i) => i.id)).toContain(status.leader!.instance_id)
    expect(status.last_reconcile).toBeNull()
    expect(status.last_recovery).toBeNull()
    expect(status.bug_leases_active).toBe(0)
  })

  test("live instances from their heartbeats; one stopped, then one killed, are shown as gone", async () => {
    const [a, b, c] = instances
    const all = await statusVia(b)
    expect(all.instances).toHaveLength(3)
    for (const instance of instances) {
      const row = byPid(all, instance)!
      expect(row.state).toBe("live")
      expect(row.stopped_at).toBeNull()
      expect(row.version).toBe("0.1.0")
      expect(row.host.length).toBeGreaterThan(0)
    }
    expect(all.instance_id).toBe(byPid(all, b)!.id)

    // B stops gracefully: its row says so at once.
    await b.kill("SIGTERM")
    const afterStop = await statusVia(a)
    expect(byPid(afterStop, b)!.state).toBe("gone")
    expect(byPid(afterStop, b)!.stopped_at).toBeString()
    expect(byPid(afterStop, a)!.state).toBe("live")
    expect(byPid(afterStop, c)!.state).toBe("live")

    // C dies without a word: gone once 3 heartbeats are missed, while A keeps beating.
    await c.kill("SIGKILL")
    await Bun.sleep(3 * 300 + 600)
    const afterKill = await statusVia(a)
    expect(byPid(afterKill, c)!.state).toBe("gone")
    expect(byPid(afterKill, c)!.stopped_at).toBeNull()
    expect(byPid(afterKill, a)!.state).toBe("live")
    expect(afterKill.instances.filter((i) => i.state === "live").map((i) => i.pid)).toEqual([a.process.pid])
    // Whoever led, the one instance left leads now (a killed leader's lock went with its connection).
    const deadline = Date.now() + 2000
    let leader = afterKill.leader
    while (leader?.instance_id !== byPid(afterKill, a)!.id && Date.now() < deadline) {
      await Bun.sleep(100)
      leader = (await statusVia(a)).leader
    }
    expect(leader?.instance_id).toBe(byPid(afterKill, a)!.id)
  })
})
