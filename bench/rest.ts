/**
 * Issue 10: what a REST request costs, with 100,000 bugs in one village — listing a page, reading
 * one bug, changing a status — each alternating round by round with raw `Bun.serve` answering the
 * same bytes (bench/baselines/raw-bytes.ts, fed one real response of the same request). Medians of
 * requests/s, p50/p99 and CPU ms per request of the serving process.
 *
 * Knobs: BENCH_BUGS (default 100000), BENCH_CONCURRENCY (default 32), BENCH_SECONDS, BENCH_ROUNDS.
 */
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { alternate, alternating, fmt, freshDatabase, load, medians, ranWith, ratio, spawnScript, spawnService, table } from "./lib.js"

const bugs = Number(process.env.BENCH_BUGS ?? 100_000)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32)
const token = "bench-root-token"

const databaseUrl = await freshDatabase()
const service = await spawnService({ DATABASE_URL: databaseUrl, BUGBOTS_BOOTSTRAP_TOKEN: token, BUGBOTS_RATE_LIMIT: "0" })
const auth = { authorization: `Bearer ${token}` }
const json = { ...auth, "content-type": "application/json" }
const village = await (await fetch(`${service.url}/api/villages`, { method: "POST", headers: json, body: JSON.stringify({ name: "bench" }) })).json()
const repo = await (await fetch(`${service.url}/api/villages/${village.id}/repos`, { method: "POST", headers: json, body: JSON.stringify({ full_name: "bench/repo" }) })).json()

const sql = new Bun.SQL(databaseUrl)
await sql`
  insert into bug_bots (village_id, repo_id, provider, source, title, description, status, severity, created_at, updated_at)
  select ${village.id}, ${repo.id}, 'manual', 'manual', 'bug ' || g, 'a description of bug ' || g,
         (array['open','triaged','resolved','closed'])[1 + g % 4]::bug_status,
         (array['critical','high','medium','low'])[1 + g % 4]::bug_severity,
         now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval
  from generate_series(1, ${bugs}) g`
await sql`analyze bug_bots`
const readable = (await sql`select id from bug_bots order by created_at desc limit 1000`).map((r: { id: string }) => r.id)
const changeable = (await sql`select id from bug_bots where status = 'open' order by created_at limit 20000`).map((r: { id: string }) => r.id)
await sql.close()
/** The bug of the one real PUT whose response the baseline answers; the load moves the others. */
const sampled = changeable.pop()!

interface Scenario {
  readonly name: string
  readonly target: number
  /** A sender of this scenario's requests to `base`, keeping its own place in the round-robin. */
  readonly sender: (base: string) => () => Promise<Response>
  /** The one request whose response the baseline answers. */
  readonly sample: () => Promise<Response>
}

const list = (base: string) => () => fetch(`${base}/api/villages/${village.id}/bugs?status=open&limit=50`, { headers: auth })
const scenarios: Array<Scenario> = [
  { name: "GET /api/villages/{id}/bugs?status=open&limit=50", target: 0.04, sender: list, sample: list(service.url) },
  {
    name: `GET /api/bugs/{id}, ${fmt(readable.length)} bugs round-robin`,
    target: 0.06,
    sender: (base) => {
      let i = 0
      return () => fetch(`${base}/api/bugs/${readable[i++ % readable.length]}`, { headers: auth })
    },
    sample: () => fetch(`${service.url}/api/bugs/${readable[0]}`, { headers: auth })
  },
  {
    name: "PUT /api/bugs/{id}/status, open ↔ triaged",
    target: 0.025,
    // Each request moves a different bug (open → triaged, then back on the next lap): no lock contention.
    sender: (base) => {
      let i = 0
      return () => {
        const n = i++
        return fetch(`${base}/api/bugs/${changeable[n % changeable.length]}/status`, {
          method: "PUT",
          headers: json,
          body: JSON.stringify({ status: Math.floor(n / changeable.length) % 2 === 0 ? "triaged" : "open" })
        })
      }
    },
    sample: () => fetch(`${service.url}/api/bugs/${sampled}/status`, { method: "PUT", headers: json, body: JSON.stringify({ status: "triaged" }) })
  }
]

const rows: Array<Array<string>> = []
const notes: Array<string> = []
for (const scenario of scenarios) {
  const sample = await scenario.sample()
  const body = await sample.bytes()
  if (sample.status !== 200) throw new Error(`${scenario.name} answered ${sample.status}: ${new TextDecoder().decode(body)}`)
  const bodyFile = path.join(os.tmpdir(), `bugbots-bench-${randomUUID()}.body`)
  await Bun.write(bodyFile, body)
  const raw = await spawnScript("bench/baselines/raw-bytes.ts", {
    BODY_FILE: bodyFile,
    STATUS: String(sample.status),
    CONTENT_TYPE: sample.headers.get("content-type") ?? ""
  })
  const [baseline, ours] = await alternate(scenario.name, [
    ["raw Bun.serve, same bytes", () => load({ pid: raw.pid, concurrency, send: scenario.sender(raw.url) })],
    ["bugbots", () => load({ pid: service.pid, concurrency, send: scenario.sender(service.url) })]
  ])
  await raw.stop()
  fs.rmSync(bodyFile)
  const base = medians(baseline)
  const m = medians(ours)
  rows.push([
    scenario.name, fmt(m.rps), fmt(m.p50, 2), fmt(m.p99, 2), fmt(m.cpuPerRequest, 3), base.errors === 0 ? String(m.errors) : `${m.errors} (raw ${base.errors})`,
    fmt(base.rps), fmt(base.cpuPerRequest, 4), ratio(m.rps, base.rps)
  ])
  notes.push(
    `${scenario.name}: ${fmt(body.length)} B answered; target ≥ ${scenario.target}× (${m.rps / base.rps >= scenario.target ? "met" : "not met"}); ` +
      `CPU per request ${fmt(m.cpuPerRequest / base.cpuPerRequest)}× the baseline's; load generator ${fmt(m.clientCpuPerRequest, 3)} CPU ms/req (raw ${fmt(base.clientCpuPerRequest, 3)})`
  )
}
await service.stop()

console.log(`\nREST API, ${fmt(bugs)} bugs in one village, ${concurrency} concurrent clients (closed loops, one process)\n`)
console.log(
  table(
    ["scenario", "req/s (median)", "p50 ms", "p99 ms", "CPU ms/req", "errors", "raw req/s", "raw CPU ms/req", "ratio (req/s vs raw)"],
    rows
  )
)
console.log(`\n${notes.map((n) => `- ${n}`).join("\n")}\n\n${await ranWith(service.settings, [alternating, "CPU of the serving process over each window"])}`)
