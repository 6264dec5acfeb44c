import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { client } from "./lib/Client.js"
import { makeUser, makeVillage } from "./lib/Fixtures.js"
import { startService, type TestService } from "./lib/Service.js"

/** `GET /api/villages/{id}/stats` (contract §12) against numbers worked out by hand from known rows. */

let svc: TestService

beforeAll(async () => {
  svc = await startService()
})
afterAll(async () => {
  await svc.stop()
})

const hours = 3600
const days = 24 * hours

interface Row {
  readonly status: string
  readonly severity: string | null
  readonly created: number
  readonly resolved?: number
  readonly slaIn?: number
  readonly duplicateOf?: number
}

/** Bugs as they would be after their histories: times in seconds before now (SLA: seconds from now). */
const insertBugs = async (villageId: string, repoId: string, rows: ReadonlyArray<Row>) => {
  const ids: Array<string> = []
  for (const [i, row] of rows.entries()) {
    const [inserted] = await svc.sql`
      insert into bug_bots (village_id, repo_id, provider, source, title, status, severity, created_at, updated_at, resolved_at, sla_due_at, duplicate_of_id)
      values (${villageId}, ${repoId}, 'manual', 'manual', ${`bug ${i + 1}`}, ${row.status}::bug_status, ${row.severity}::bug_severity,
              now() - make_interval(secs => ${row.created}), now(),
              ${row.resolved === undefined ? null : new Date(Date.now() - row.resolved * 1000)}::timestamptz,
              ${row.slaIn === undefined ? null : new Date(Date.now() + row.slaIn * 1000)}::timestamptz,
              ${row.duplicateOf === undefined ? null : ids[row.duplicateOf - 1]}::uuid)
      returning id`
    ids.push(inserted.id)
  }
  return ids
}

describe("GET /api/villages/{id}/stats", () => {
  test("counts by status and severity, past SLA, MTTR over 30 days, created and resolved over 7 days", async () => {
    const village = await makeVillage(svc)
    const elsewhere = await makeVillage(svc)
    await insertBugs(village.id, village.repoId, [
      /* 1 */ { status: "open", severity: "critical", created: 1 * days, slaIn: -1 * hours },
      /* 2 */ { status: "open", severity: "high", created: 10 * days, slaIn: 5 * hours },
      /* 3 */ { status: "triaged", severity: "medium", created: 2 * days, slaIn: -2 * hours },
      /* 4 */ { status: "awaiting_verification", severity: "low", created: 3 * days },
      /* 5 */ { status: "resolved", severity: "high", created: 3 * days, resolved: 1 * days, slaIn: -2 * days },
      /* 6 */ { status: "resolved", severity: "critical", created: 20 * days, resolved: 10 * days },
      /* 7 */ { status: "closed", severity: "low", created: 40 * days, resolved: 35 * days },
      /* 8 */ { status: "closed", severity: "medium", created: 2 * days, resolved: 1 * days, duplicateOf: 5 },
      /* 9 */ { status: "open", severity: null, created: 1 * hours }
    ])
    // Another village's bugs count there only.
    await insertBugs(elsewhere.id, elsewhere.repoId, [{ status: "open", severity: "critical", created: 1 * hours, slaIn: -1 * hours }])

    const reply = await village.root.get(`/api/villages/${village.id}/stats`)
    expect(reply.status).toBe(200)
    const { mttr_seconds_30d, ...rest } = reply.body
    expect(rest).toEqual({
      by_status: { open: 3, triaged: 1, assigned: 0, in_progress: 0, awaiting_verification: 1, resolved: 2, closed: 2 },
      // Bugs 1, 2, 3, 4 and 9: not resolved or closed.
      by_severity: { critical: 1, high: 1, medium: 1, low: 1, none: 1 },
      // Bugs 1 and 3 (5 is past its deadline but resolved).
      open_past_sla: 2,
      // Bugs 1, 3, 4, 5, 8 and 9.
      created_7d: 6,
      // Bugs 5 and 8.
      resolved_7d: 2,
      top_fingerprints: []
    })
    // Bugs 5 (2 days) and 6 (10 days); 7 was resolved 35 days ago, 8 is a duplicate.
    expect(mttr_seconds_30d).toBeCloseTo((2 * days + 10 * days) / 2, -1)
  })

  test("top fingerprints: the most occurrences in the last 7 days, then the latest", async () => {
    const village = await makeVillage(svc)
    const key = (await village.root.post(`/api/repos/${village.repoId}/ingest-keys`, { name: "stats" })).body
    const reporter = client(svc.baseUrl, key.public_key)
    const bugOf: Record<string, string> = {}
    for (const fingerprint of ["A", "A", "A", "C", "C", "B"]) {
      const receipt = await reporter.post("/api/reports", { message: `failure ${fingerprint}`, fingerprint: [fingerprint] })
      expect(receipt.status).toBe(201)
      bugOf[fingerprint] = receipt.body.bug_id
    }
    // One of A's occurrences is older than the window.
    await svc.sql`update occurrences set received_at = now() - interval '8 days'
                  where id = (select id from occurrences where bug_id = ${bugOf.A} order by seq limit 1)`

    const reply = await village.root.get(`/api/villages/${village.id}/stats`)
    expect(reply.status).toBe(200)
    const top = reply.body.top_fingerprints as Array<{ bug_id: string; title: string; occurrences_7d: number; fingerprint: string; last_seen: string }>
    expect(top.map((t) => [t.bug_id, t.occurrences_7d, t.title])).toEqual([
      [bugOf.C, 2, "failure C"],
      [bugOf.A, 2, "failure A"],
      [bugOf.B, 1, "failure B"]
    ])
    for (const t of top) {
      expect(t.fingerprint).toMatch(/^[0-9a-f]+$/)
      expect(Date.parse(t.last_seen)).toBeGreaterThan(Date.now() - 60_000)
    }
    expect(reply.body.created_7d).toBe(3)
    expect(reply.body.by_status.open).toBe(3)
  })

  test("readers of the village only: others get 404", async () => {
    const village = await makeVillage(svc)
    const member = await makeUser(svc, { village: village.id, role: "operator" })
    const stranger = await makeUser(svc)
    expect((await member.api.get(`/api/villages/${village.id}/stats`)).status).toBe(200)
    const hidden = await stranger.api.get(`/api/villages/${village.id}/stats`)
    expect(hidden.status).toBe(404)
    expect(hidden.body.error.code).toBe("NOT_FOUND")
    expect((await village.root.get(`/api/villages/${crypto.randomUUID()}/stats`)).status).toBe(404)
  })
})
