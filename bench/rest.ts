/**
 * Issue 2: listing (`status=open`, `limit=50`) with 100,000 bugs in one village, and status changes,
 * as requests/s and p50/p99, beside raw `Bun.serve` answering a canned page in the same run.
 */
import { fmt, freshDatabase, load, spawnScript, spawnService, table, type LoadResult } from "./lib.js"

const bugs = Number(process.env.BENCH_BUGS ?? 100_000)
const seconds = Number(process.env.BENCH_SECONDS ?? 8)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32)
const token = "bench-root-token"

const databaseUrl = await freshDatabase()
const service = await spawnService({ DATABASE_URL: databaseUrl, BUGBOTS_BOOTSTRAP_TOKEN: token })
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
const changeable = (await sql`select id from bug_bots where status = 'open' order by created_at limit 20000`).map((r: { id: string }) => r.id)
await sql.close()

const raw = await spawnScript("bench/baselines/raw-json.ts")
const results: Array<[string, LoadResult]> = []
const measure = async (name: string, send: (i: number) => Promise<Response>) => {
  results.push([name, await load({ concurrency, durationMs: seconds * 1000, send })])
}

await measure("raw Bun.serve, canned page of 50", () => fetch(`${raw.url}/`))
await measure("GET /villages/{id}/bugs?status=open&limit=50", () =>
  fetch(`${service.url}/api/villages/${village.id}/bugs?status=open&limit=50`, { headers: auth })
)
await measure("raw Bun.serve, canned bug (PUT)", () => fetch(`${raw.url}/`, { method: "PUT", body: "{}" }))
// Each request moves a different bug (open → triaged, then back on the next lap): no lock contention.
await measure("PUT /bugs/{id}/status", (i) =>
  fetch(`${service.url}/api/bugs/${changeable[i % changeable.length]}/status`, {
    method: "PUT",
    headers: json,
    body: JSON.stringify({ status: Math.floor(i / changeable.length) % 2 === 0 ? "triaged" : "open" })
  })
)
await raw.stop()
await service.stop()

const baselineOf = (name: string) => results[name.startsWith("PUT") ? 2 : 0][1]
console.log(`\nREST API, ${fmt(bugs)} bugs in one village, ${concurrency} concurrent clients, ${seconds} s each\n`)
console.log(
  table(
    ["scenario", "requests/s", "p50 ms", "p99 ms", "errors", "vs raw Bun.serve"],
    results.map(([name, r]) => [
      name, fmt(r.rps), fmt(r.p50, 2), fmt(r.p99, 2), String(r.errors),
      name.startsWith("raw") ? "1.00×" : `${fmt(r.rps / baselineOf(name).rps, 3)}×`
    ])
  )
)
