/**
 * Issue 4: signed `issues.opened` deliveries answered per second and p50/p99 by bugbots (verify,
 * store in the ledger, 202; its workers turn each into a bug bot meanwhile), beside — in the same
 * run, same payloads, same load generator — raw `Bun.serve` that only verifies the signature, and
 * Probot (verify + dispatch to an empty handler, no storage).
 */
import { createHmac, randomUUID } from "node:crypto"
import { fmt, freshDatabase, load, spawnScript, spawnService, table, type LoadResult } from "./lib.js"

const seconds = Number(process.env.BENCH_SECONDS ?? 8)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32)
/** GitHub's usual pace: a few deliveries in flight at once. */
const lightSenders = 4
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

interface Row {
  readonly name: string
  readonly senders: number
  readonly result: LoadResult
  note: string
}
const rows: Array<Row> = []
const measure = async (name: string, url: string, senders: number, note = "") => {
  const result = await load({ concurrency: senders, durationMs: seconds * 1000, warmupMs: 2000, send: post(url) })
  const row: Row = { name, senders, result, note }
  rows.push(row)
  return row
}

const raw = await spawnScript("bench/baselines/raw-webhook.ts", { WEBHOOK_SECRET: secret })
await measure("raw Bun.serve, verify only", `${raw.url}/`, lightSenders, "nothing stored")
await measure("raw Bun.serve, verify only", `${raw.url}/`, concurrency, "nothing stored")
await raw.stop()

const probot = await spawnScript("bench/baselines/probot-webhook.ts", { WEBHOOK_SECRET: secret, LOG_LEVEL: "error" })
await measure("Probot 14 (node:http middleware)", `${probot.url}/api/github/webhooks`, concurrency, "nothing stored")
await probot.stop()

const databaseUrl = await freshDatabase()
const service = await spawnService({ DATABASE_URL: databaseUrl, GITHUB_WEBHOOK_SECRET: secret })
const sql = new Bun.SQL(databaseUrl)
const backlog = async () =>
  (await sql`select count(*)::int as n from jobs where kind = 'github.delivery' and status in ('pending', 'running')`)[0].n as number
const drain = async () => {
  const ended = performance.now()
  const left = await backlog()
  while ((await backlog()) > 0) await Bun.sleep(100)
  return { left, seconds: (performance.now() - ended) / 1000 }
}
const light = await measure("bugbots POST /api/webhooks/github", `${service.url}/api/webhooks/github`, lightSenders)
const lightDrain = await drain()
light.note = `backlog ${fmt(lightDrain.left)} when the load stopped, drained in ${fmt(lightDrain.seconds, 1)} s`
const heavy = await measure("bugbots POST /api/webhooks/github", `${service.url}/api/webhooks/github`, concurrency)
const heavyDrain = await drain()
const [{ deliveries, bugs, failed }] = await sql`
  select (select count(*)::int from jobs where kind = 'github.delivery') as deliveries,
         (select count(*)::int from bug_bots) as bugs,
         (select count(*)::int from jobs where kind = 'github.delivery' and status = 'failed') as failed`
const [{ rate }] = await sql`
  select count(*) / extract(epoch from max(finished_at) - min(finished_at)) as rate
  from jobs where kind = 'github.delivery' and finished_at > now() - interval '10 minutes' and status = 'done'`
await sql.close()
await service.stop()
heavy.note =
  `backlog ${fmt(heavyDrain.left)} when the load stopped, drained in ${fmt(heavyDrain.seconds, 1)} s; ` +
  `in all ${fmt(deliveries)} stored, ${fmt(bugs)} bugs made (~${fmt(Number(rate))} deliveries processed/s), ${failed} failed`

const baselineFor = (senders: number) => rows.find((r) => r.name.startsWith("raw") && r.senders === senders)!.result
console.log(`\nGitHub webhooks: signed issues.opened (${fmt(template.length)} B, a new issue each), ${seconds} s per row after 2 s warm-up\n`)
console.log(
  table(
    ["receiver", "senders", "answered/s", "p50 ms", "p99 ms", "errors", "rate vs raw", "p99 vs raw", "notes"],
    rows.map((r) => [
      r.name,
      String(r.senders),
      fmt(r.result.rps),
      fmt(r.result.p50, 2),
      fmt(r.result.p99, 2),
      String(r.result.errors),
      `${fmt(r.result.rps / baselineFor(r.senders).rps, 3)}×`,
      `${fmt(r.result.p99 / baselineFor(r.senders).p99, 2)}×`,
      r.note
    ])
  )
)
