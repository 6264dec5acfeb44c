/**
 * Issue 10 (webhooks): signed `issues.opened` deliveries answered per second, p50/p99 and CPU ms per
 * delivery by bugbots (verify, store as a job, 202; its workers turn each into a bug bot meanwhile),
 * alternating round by round — same payloads, same load generator — with raw `Bun.serve` that only
 * verifies the signature and Probot (verify + dispatch to an empty handler); neither stores anything.
 *
 * After each bugbots window the bench waits for the backlog to drain (BENCH_DRAIN_SECONDS at most), so
 * the next baseline window does not share the cores with bugbots' workers; the drain also measures
 * processing alone: deliveries turned into bugs per second, and the service's CPU per delivery.
 *
 * Knobs: BENCH_CONCURRENCY (the heavy load's senders, default 32), BENCH_DRAIN_SECONDS (default 30),
 * BENCH_SECONDS, BENCH_ROUNDS.
 */
import { createHmac, randomUUID } from "node:crypto"
import { alternate, alternating, cpuMs, fmt, freshDatabase, load, median, medians, ranWith, ratio, spawnScript, spawnService, table, type Window } from "./lib.js"

const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32)
/** GitHub's usual pace: a few deliveries in flight at once. */
const lightSenders = 4
const warmupMs = 2000
/** How long the bench waits after a bugbots window for the backlog to drain before it goes on. */
const drainMs = Number(process.env.BENCH_DRAIN_SECONDS ?? 30) * 1000
const secret = "bench-webhook-secret"

// A real `issues.opened` payload (~12 KB) from @octokit/webhooks-examples; every delivery is another issue.
const definitions = (await import("@octokit/webhooks-examples")).default
const opened = definitions.find((d) => d.name === "issues")!.examples.find((e) => "action" in e && e.action === "opened")
const example = JSON.parse(JSON.stringify(opened)) as { issue: { id: number; number: number } }
example.issue.id = 987654321012
example.issue.number = 876543
const template = JSON.stringify(example)
const deliveryOf = (i: number) => {
  const body = template.replace("987654321012", String(1_000_000_000 + i)).replace("876543", String(100_000 + i))
  return {
    body,
    headers: {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/bench",
      "x-github-event": "issues",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`
    }
  }
}

let sent = 0
const post = (url: string) => () => {
  const delivery = deliveryOf(sent++)
  return fetch(url, { method: "POST", headers: delivery.headers, body: delivery.body })
}

const raw = await spawnScript("bench/baselines/raw-webhook.ts", { WEBHOOK_SECRET: secret })
const probot = await spawnScript("bench/baselines/probot-webhook.ts", { WEBHOOK_SECRET: secret, LOG_LEVEL: "error" })
const databaseUrl = await freshDatabase()
const service = await spawnService({ DATABASE_URL: databaseUrl, GITHUB_WEBHOOK_SECRET: secret })
const sql = new Bun.SQL(databaseUrl)

const backlog = async () =>
  (await sql`select count(*)::int as n from jobs where kind = 'github.delivery' and status in ('pending', 'running')`)[0].n as number
const processed = async () => (await sql`select count(*)::int as n from jobs where kind = 'github.delivery' and status = 'done'`)[0].n as number

interface Received extends Window {
  readonly backlog: number
  readonly left: number
  readonly drainSeconds: number
  /** Deliveries processed per second and service CPU ms per delivery while it only processed (the drain). */
  readonly processedPerSecond: number
  readonly processingCpuPerDelivery: number
}

const bugbots = async (senders: number): Promise<Received> => {
  const window = await load({ pid: service.pid, concurrency: senders, warmupMs, send: post(`${service.url}/api/webhooks/github`) })
  const stopped = performance.now()
  const cpu = cpuMs(service.pid)
  const done = await processed()
  const atStop = await backlog()
  let left = atStop
  while (left > 0 && performance.now() - stopped < drainMs) {
    await Bun.sleep(100)
    left = await backlog()
  }
  const drainSeconds = (performance.now() - stopped) / 1000
  const drained = (await processed()) - done
  return {
    ...window,
    backlog: atStop,
    left,
    drainSeconds,
    processedPerSecond: drained > 0 ? drained / drainSeconds : NaN,
    processingCpuPerDelivery: drained > 0 ? (cpuMs(service.pid) - cpu) / drained : NaN
  }
}

/** The median of the rounds that had something to drain. */
const medianOf = (values: ReadonlyArray<number>) => {
  const known = values.filter(Number.isFinite)
  return known.length > 0 ? median(known) : NaN
}

const rows: Array<Array<string>> = []
for (const senders of [lightSenders, concurrency]) {
  const label = `webhooks, ${senders} senders`
  const [rawWindows, probotWindows, ours] = await alternate(label, [
    ["raw Bun.serve, verify only", () => load({ pid: raw.pid, concurrency: senders, warmupMs, send: post(`${raw.url}/`) })],
    ["Probot", () => load({ pid: probot.pid, concurrency: senders, warmupMs, send: post(`${probot.url}/api/github/webhooks`) })],
    ["bugbots", () => bugbots(senders)]
  ])
  const base = medians(rawWindows)
  const probotMedians = medians(probotWindows)
  const row = (name: string, m: ReturnType<typeof medians>, note: string) => [
    name, String(senders), fmt(m.rps), fmt(m.p50, 2), fmt(m.p99, 2), fmt(m.cpuPerRequest, 3), String(m.errors),
    ratio(m.rps, base.rps), ratio(m.rps, probotMedians.rps), note
  ]
  rows.push(row("raw Bun.serve, verify only", base, "nothing stored"))
  rows.push(row("Probot 14 (node:http middleware)", probotMedians, "nothing stored"))
  rows.push(
    row(
      "bugbots POST /api/webhooks/github",
      medians(ours),
      `backlog ${fmt(median(ours.map((r) => r.backlog)))} when the load stopped, ` +
        (ours.every((r) => r.left === 0)
          ? `drained in ${fmt(median(ours.map((r) => r.drainSeconds)), 1)} s`
          : `${fmt(median(ours.map((r) => r.left)))} left after ${fmt(median(ours.map((r) => r.drainSeconds)), 1)} s`) +
        (ours.some((r) => Number.isFinite(r.processedPerSecond))
          ? `; processing alone: ${fmt(medianOf(ours.map((r) => r.processedPerSecond)), 1)} deliveries/s, ` +
            `${fmt(medianOf(ours.map((r) => r.processingCpuPerDelivery)), 2)} CPU ms/delivery`
          : "; processing kept up")
    )
  )
}
const left = await backlog()
const [{ deliveries, bugs, failed }] = await sql`
  select (select count(*)::int from jobs where kind = 'github.delivery') as deliveries,
         (select count(*)::int from bug_bots) as bugs,
         (select count(*)::int from jobs where kind = 'github.delivery' and status = 'failed') as failed`
await sql.close()
await service.stop()
await probot.stop()
await raw.stop()

console.log(`\nGitHub webhooks: signed issues.opened (${fmt(template.length)} B, a new issue each)\n`)
console.log(
  table(
    ["receiver", "senders", "answered/s (median)", "p50 ms", "p99 ms", "CPU ms/req", "errors", "rate vs raw", "rate vs Probot", "notes"],
    rows
  )
)
console.log(
  `\nbugbots in all: ${fmt(deliveries)} deliveries stored, ${fmt(bugs)} bugs made, ${fmt(left)} not processed yet, ${failed} failed. ` +
    `CPU ms/req is the receiving process's CPU over the measured window per answer (for bugbots it includes its workers' concurrent processing).\n\n` +
    (await ranWith(service.settings, [alternating, `${warmupMs / 1000} s warm-up per window`, `drains wait ${drainMs / 1000} s at most`]))
)
