/**
 * Issue 11: error-report ingest. 5 KB Sentry events through `POST /api/{project}/envelope/` from
 * BENCH_CONCURRENCY (default 16) closed-loop senders, every event a new `event_id`:
 * - storm: one fingerprint (one bug row that every event counts into);
 * - spread: 1,000 fingerprints (round-robin), their bugs made before the window;
 * - new: every event a new fingerprint, so every event makes a bug (the transactional path).
 * Each alternates, round by round, with a raw baseline on the same database: the same number of
 * loops each inserting the same 5 KB payload as one row (`insert … values ($1)` over Bun.SQL,
 * one connection per loop). Medians of events/s stored (200 answered: durable), p50/p99, CPU ms per
 * event of the service; after each window the counters must add up to the events stored.
 *
 * The ingest rate limit is off for the run (BUGBOTS_INGEST_RATE_LIMIT=0).
 */
import { alternate, alternating, cpuMs, fmt, freshDatabase, load, median, medians, quantile, ranWith, ratio, spawnService, table, windowMs, type Window } from "./lib.js"

const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16)
const fingerprints = 1000
const token = "bench-root-token"

const databaseUrl = await freshDatabase()
const service = await spawnService({ DATABASE_URL: databaseUrl, BUGBOTS_BOOTSTRAP_TOKEN: token, BUGBOTS_INGEST_RATE_LIMIT: "0" })
const json = { authorization: `Bearer ${token}`, "content-type": "application/json" }
const post = async (path: string, body: unknown) => {
  const response = await fetch(`${service.url}${path}`, { method: "POST", headers: json, body: JSON.stringify(body) })
  if (response.status !== 201) throw new Error(`${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as Record<string, any>
}
const village = await post("/api/villages", { name: "bench" })

/** A repo with its ingest key: each scenario and round reports into its own, so counts are its own. */
const newTarget = async () => {
  const repo = await post(`/api/villages/${village.id}/repos`, { full_name: `bench/app-${crypto.randomUUID().slice(0, 8)}` })
  const key = await post(`/api/repos/${repo.id}/ingest-keys`, { name: "bench" })
  return { repoId: repo.id as string, url: `${service.url}/api/${key.project_id}/envelope/?sentry_key=${key.public_key}` }
}

/** A Sentry event of about 5 KB: an exception with 12 in-app frames, breadcrumbs, tags and request. */
const eventOf = (group: number) => ({
  platform: "javascript",
  level: "error",
  release: "shop@2.14.1",
  environment: "production",
  timestamp: Date.now() / 1000,
  exception: {
    values: [
      {
        type: "TypeError",
        value: `Cannot read properties of undefined (reading 'price') in cart ${group}`,
        stacktrace: {
          frames: Array.from({ length: 12 }, (_, i) => ({
            filename: `/srv/shop/src/cart/module${i}.js`,
            function: i === 11 ? `handler${group}` : `step${i}`,
            lineno: 40 + i,
            colno: 12,
            in_app: true,
            context_line: "    const total = items.map((item) => item.product.price * item.quantity)"
          }))
        }
      }
    ]
  },
  breadcrumbs: Array.from({ length: 24 }, (_, i) => ({ timestamp: Date.now() / 1000, category: "http", message: `GET /api/cart/${i} 200 (${i * 7} ms)` })),
  tags: { route: "/checkout", region: "eu-west-1", customer_tier: "gold" },
  request: { url: "https://shop.example/checkout", method: "POST", headers: { "user-agent": "Mozilla/5.0 (X11; Linux x86_64) bench" } },
  contexts: { trace: { trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", span_id: "00f067aa0ba902b7" } }
})

const sample = JSON.stringify(eventOf(0))
const eventBytes = new TextEncoder().encode(sample).length

/** An envelope of one event with a new id; `group` picks its fingerprint. */
const envelopeOf = (group: number) => {
  const eventId = crypto.randomUUID().replaceAll("-", "")
  return `{"event_id":"${eventId}"}\n{"type":"event"}\n${JSON.stringify({ event_id: eventId, ...eventOf(group) })}\n`
}

const sql = new Bun.SQL(databaseUrl)
const stored = async (repoId: string) => Number((await sql`select count(*)::int as n from occurrences where repo_id = ${repoId}`)[0].n)
const counted = async (repoId: string) => Number((await sql`select coalesce(sum(occurrences), 0)::int as n from bug_bots where repo_id = ${repoId}`)[0].n)

/** Waits for the counters to catch up with what was stored: they must, exactly. */
const settle = async (repoId: string) => {
  const total = await stored(repoId)
  for (let i = 0; i < 200; i++) {
    if ((await counted(repoId)) === total) return total
    await Bun.sleep(50)
  }
  throw new Error(`repo ${repoId}: ${total} occurrences stored, ${await counted(repoId)} counted`)
}

type Scenario = "storm" | "spread" | "new"

const ingest = (scenario: Scenario) => async (): Promise<Window> => {
  const target = await newTarget()
  // The spread's 1,000 bugs exist before its window (made as the "new" scenario makes bugs).
  if (scenario === "spread") {
    let g = 0
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (g < fingerprints) await (await fetch(target.url, { method: "POST", body: envelopeOf(g++) })).arrayBuffer()
    }))
  }
  let n = 0
  const window = await load({
    pid: service.pid,
    concurrency,
    send: () => fetch(target.url, { method: "POST", body: envelopeOf(scenario === "storm" ? 0 : scenario === "spread" ? n++ % fingerprints : fingerprints + n++) })
  })
  const total = await settle(target.repoId)
  const bugs = Number((await sql`select count(*)::int as n from bug_bots where repo_id = ${target.repoId}`)[0].n)
  const expected = scenario === "storm" ? 1 : scenario === "spread" ? fingerprints : total
  if (bugs !== expected) throw new Error(`${scenario}: ${bugs} bugs for ${total} events, ${expected} expected`)
  return window
}

// The baseline: the same payload, one row per insert, the same number of loops, one connection each.
await sql`create table if not exists bench_raw_events (id bigint generated always as identity primary key, payload jsonb not null)`
const rawInserts = async (): Promise<Window> => {
  const pool = new Bun.SQL({ url: databaseUrl, max: concurrency })
  const loop = async (until: number, latencies: Array<number> | null) => {
    while (performance.now() < until) {
      const started = performance.now()
      await pool`insert into bench_raw_events (payload) values (${sample}::text::jsonb)`
      latencies?.push(performance.now() - started)
    }
  }
  const warm = performance.now() + 1000
  await Promise.all(Array.from({ length: concurrency }, () => loop(warm, null)))
  const latencies: Array<number> = []
  const clientCpu = cpuMs(process.pid)
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, () => loop(started + windowMs, latencies)))
  const elapsed = (performance.now() - started) / 1000
  const clientCpuPerRequest = (cpuMs(process.pid) - clientCpu) / latencies.length
  await pool.close()
  latencies.sort((a, b) => a - b)
  return {
    requests: latencies.length,
    errors: 0,
    rps: latencies.length / elapsed,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    cpuPerRequest: clientCpuPerRequest,
    clientCpuPerRequest
  }
}

const [raw, storm, spread, fresh] = await alternate("reports", [
  ["raw single-row inserts", rawInserts],
  ["storm (1 fingerprint)", ingest("storm")],
  ["spread (1,000 fingerprints)", ingest("spread")],
  ["new fingerprints (a bug each)", ingest("new")]
])
await sql.close()
await service.stop()

const base = medians(raw)
const rows = [
  ["raw `insert … values ($1)`, same payload", fmt(base.rps), fmt(base.p50, 2), fmt(base.p99, 2), "–", "0", "1.00×"],
  ...([["storm: 1 fingerprint", storm], ["spread: 1,000 fingerprints (their bugs made before the window)", spread], ["new fingerprints: every event makes its bug", fresh]] as const).map(([name, windows]) => {
    const m = medians(windows)
    return [name, fmt(m.rps), fmt(m.p50, 2), fmt(m.p99, 2), fmt(m.cpuPerRequest, 3), String(m.errors), ratio(m.rps, base.rps)]
  })
]
const stormRps = median(storm.map((w) => w.rps))
const spreadRps = median(spread.map((w) => w.rps))
console.log(`\nError-report ingest: ${fmt(eventBytes)} B events in Sentry envelopes, ${concurrency} concurrent senders (closed loops, one process)\n`)
console.log(table(["scenario", "events/s stored (median)", "p50 ms", "p99 ms", "service CPU ms/event", "errors", "ratio vs raw inserts"], rows))
console.log(
  `\n- target ≥ 1,000 events/s stored: storm ${stormRps >= 1000 ? "met" : "not met"}, spread ${spreadRps >= 1000 ? "met" : "not met"}; ` +
    `storm / spread = ${fmt(stormRps / spreadRps, 2)} (target ≥ 0.5: ${stormRps / spreadRps >= 0.5 ? "met" : "not met"})` +
    `\n- after every window the bugs' occurrence counters equalled the occurrences stored (checked, or the bench fails)` +
    `\n\n${await ranWith(service.settings, [alternating, "service CPU over each window; the raw baseline's loops run in the bench process"])}`
)
