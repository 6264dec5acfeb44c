/**
 * Issue 10: what a REST request costs, with 100,000 bugs in one village — listing a page, reading
 * one bug, changing a status — each alternating round by round with raw `Bun.serve` answering the
 * same bytes (bench/baselines/raw-bytes.ts, fed one real response of the same request). Medians of
 * requests/s, p50/p99 and CPU ms per request of the serving process.
 *
 * Then the list again, with and without metrics (BUGBOTS_METRICS=off), alternating.
 *
 * Knobs: BENCH_BUGS (default 100000), BENCH_CONCURRENCY (default 32), BENCH_SECONDS, BENCH_ROUNDS, and
 * BENCH_REST_ONLY (some of list,get,put,metrics; default all).
 */
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { recordRequest } from "../src/Metrics/Series.js"
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

const only = new Set((process.env.BENCH_REST_ONLY ?? "list,get,put,metrics").split(",").map((s) => s.trim()))

interface Scenario {
  readonly key: string
  readonly name: string
  readonly target: number
  /** A sender of this scenario's requests to `base`, keeping its own place in the round-robin. */
  readonly sender: (base: string) => () => Promise<Response>
  /** The one request whose response the baseline answers. */
  readonly sample: () => Promise<Response>
}

const list = (base: string) => () => fetch(`${base}/api/villages/${village.id}/bugs?status=open&limit=50`, { headers: auth })
const scenarios: Array<Scenario> = [
  { key: "list", name: "GET /api/villages/{id}/bugs?status=open&limit=50", target: 0.04, sender: list, sample: list(service.url) },
  {
    key: "get",
    name: `GET /api/bugs/{id}, ${fmt(readable.length)} bugs round-robin`,
    target: 0.06,
    sender: (base) => {
      let i = 0
      return () => fetch(`${base}/api/bugs/${readable[i++ % readable.length]}`, { headers: auth })
    },
    sample: () => fetch(`${service.url}/api/bugs/${readable[0]}`, { headers: auth })
  },
  {
    key: "put",
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
for (const scenario of scenarios.filter((s) => only.has(s.key))) {
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

/**
 * What metrics cost (issue 14: at most 5% of the list's throughput): the same list request against
 * this service and a twin on the same database with BUGBOTS_METRICS=off (no HTTP series recorded,
 * no /metrics), alternating round by round. The metered side is also scraped every second, as
 * Prometheus would (more often than its usual 15 s), so the scrapes' cost is in its figures.
 */
const listName = "GET /api/villages/{id}/bugs?status=open&limit=50"
const metricsRows: Array<Array<string>> = []
if (only.has("metrics")) {
  const unmetered = await spawnService({ DATABASE_URL: databaseUrl, BUGBOTS_BOOTSTRAP_TOKEN: token, BUGBOTS_RATE_LIMIT: "0", BUGBOTS_METRICS: "off" })
  // The twin starts cold: one window of its own first, so that both sides are warm when they alternate.
  await load({ pid: unmetered.pid, concurrency, send: list(unmetered.url) })
  const scraped = async <A>(url: string, run: () => Promise<A>) => {
    let scrapes = 0
    const timer = setInterval(() => {
      void fetch(`${url}/metrics`).then(async (r) => {
        await r.text()
        if (r.ok) scrapes += 1
      })
    }, 1000)
    try {
      return { result: await run(), scrapes }
    } finally {
      clearInterval(timer)
    }
  }
  const [off, on] = await alternate(`${listName}, metrics off/on`, [
    ["BUGBOTS_METRICS=off", () => load({ pid: unmetered.pid, concurrency, send: list(unmetered.url) })],
    ["metrics on, scraped every second", () => scraped(service.url, () => load({ pid: service.pid, concurrency, send: list(service.url) }))]
  ])
  await unmetered.stop()
  const offM = medians(off)
  const onM = medians(on.map((w) => w.result))
  metricsRows.push(
    [`${listName}, BUGBOTS_METRICS=off`, fmt(offM.rps), fmt(offM.p50, 2), fmt(offM.p99, 2), fmt(offM.cpuPerRequest, 3), String(offM.errors), "1.00×"],
    [
      `${listName}, metrics on (scraped every second)`, fmt(onM.rps), fmt(onM.p50, 2), fmt(onM.p99, 2), fmt(onM.cpuPerRequest, 3), String(onM.errors),
      ratio(onM.rps, offM.rps)
    ]
  )
  /** What recording one request's series costs by itself (the work the middleware adds), timed here over a million calls. */
  const recordCost = (() => {
    const calls = 1_000_000
    for (let i = 0; i < 100_000; i++) recordRequest("GET", "/bench/:warmup", 200, 0.05)
    const before = process.cpuUsage()
    for (let i = 0; i < calls; i++) recordRequest("GET", "/bench/:id", 200, (i % 100) / 1000)
    const used = process.cpuUsage(before)
    return ((used.user + used.system) / 1000) / calls
  })()
  const metricsCost = 1 - onM.rps / offM.rps
  notes.push(
    `metrics: throughput with them ${ratio(onM.rps, offM.rps)} of without (cost ${fmt(metricsCost * 100, 1)}%, goal ≤ 5%: ${metricsCost <= 0.05 ? "met" : "not met"}); ` +
      `CPU per request ${fmt(onM.cpuPerRequest / offM.cpuPerRequest, 3)}× without; ${on.reduce((n, w) => n + w.scrapes, 0)} scrapes answered during the metered windows; ` +
      `recording a request's series costs ${fmt(recordCost * 1000, 3)} µs of CPU (${fmt((recordCost / offM.cpuPerRequest) * 100, 3)}% of a list request's CPU without metrics)`
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
if (metricsRows.length > 0) {
  console.log(`\nWhat metrics cost: the list with and without them (two services on the same database, alternating)\n`)
  console.log(table(["scenario", "req/s (median)", "p50 ms", "p99 ms", "CPU ms/req", "errors", "ratio (req/s vs off)"], metricsRows))
}
console.log(`\n${notes.map((n) => `- ${n}`).join("\n")}\n\n${await ranWith(service.settings, [alternating, "CPU of the serving process over each window"])}`)
