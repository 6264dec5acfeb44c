/**
 * Issue 5: claim → resolve cycles per second with 8 concurrent agents over 20,000 open bugs
 * (`POST /api/agents/claim`, then `PUT /api/bugs/{id}/status` resolved, until the claim answers 204;
 * then the same over RPC with `bugbots/client`, in a second village of 20,000 bugs),
 * beside — in the same run, on the same PostgreSQL, same concurrency, same count — pg-boss
 * (8 loops of `fetch` → `complete`, the same claim/finish pair without the HTTP hop) and
 * graphile-worker (`run` with concurrency 8 and a no-op task).
 *
 * Each system works until its queue is empty or BENCH_SECONDS (default 30) have passed, whichever
 * comes first, so the whole run stays well under 3 minutes on a small machine; the rate is items
 * finished per second of that window.
 *
 * Knobs: BENCH_CLAIM_BUGS (default 20000), BENCH_JOBS (default 20000), BENCH_AGENTS (default 8),
 * BENCH_SECONDS (default 30).
 */
import { Logger, makeWorkerUtils, run } from "graphile-worker"
import { PgBoss } from "pg-boss"
import { Effect, ManagedRuntime } from "effect"
import { BugbotsClient, makeClient } from "../src/Rpc/Client.js"
import { fmt, freshDatabase, spawnService, table } from "./lib.js"

const bugCount = Number(process.env.BENCH_CLAIM_BUGS ?? 20_000)
const jobCount = Number(process.env.BENCH_JOBS ?? 20_000)
const concurrency = Number(process.env.BENCH_AGENTS ?? 8)
const windowMs = Number(process.env.BENCH_SECONDS ?? 30) * 1000
const token = "bench-root-token"

interface Result {
  readonly name: string
  readonly items: number
  readonly seconds: number
  readonly latencies?: Array<number>
}
const results: Array<Result> = []

const quantile = (sorted: ReadonlyArray<number>, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0

/** `concurrency` loops of `step` until each one answers false or the window closes; per-step latencies in ms. */
const drain = async (step: (worker: number) => Promise<boolean>) => {
  const latencies: Array<number> = []
  const started = performance.now()
  const deadline = started + windowMs
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < deadline) {
        const t = performance.now()
        if (!(await step(worker))) return
        latencies.push(performance.now() - t)
      }
    })
  )
  return { seconds: (performance.now() - started) / 1000, latencies: latencies.sort((a, b) => a - b) }
}

// --- bugbots: the service as its own process; agents over REST, then over RPC ------------------
{
  const databaseUrl = await freshDatabase()
  const service = await spawnService({ DATABASE_URL: databaseUrl, BUGBOTS_BOOTSTRAP_TOKEN: token, BUGBOTS_DB_POOL: "16" })
  const call = async (path: string, method: string, body: unknown, bearer = token) => {
    const response = await fetch(`${service.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify(body)
    })
    return { status: response.status, body: response.status === 204 ? null : await response.json() }
  }
  const sql = new Bun.SQL(databaseUrl)
  /** A village with `bugCount` open bugs (of every severity) and `concurrency` agents; their tokens. */
  const seed = async (name: string) => {
    const village = (await call("/api/villages", "POST", { name })).body
    const repo = (await call(`/api/villages/${village.id}/repos`, "POST", { full_name: `bench/${name}` })).body
    const agents: Array<string> = []
    for (let i = 0; i < concurrency; i++) agents.push((await call(`/api/villages/${village.id}/agents`, "POST", { name: `agent-${i}` })).body.token)
    await sql`
      insert into bug_bots (village_id, repo_id, provider, source, title, status, severity, created_at, updated_at)
      select ${village.id}, ${repo.id}, 'manual', 'manual', 'bug ' || g, 'open',
             (array['critical','high','medium','low'])[1 + g % 4]::bug_severity,
             now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval
      from generate_series(1, ${bugCount}) g`
    await sql`analyze bug_bots`
    return { village: village.id as string, agents }
  }
  /** Every bug resolved was claimed, and no bug was claimed twice. */
  const check = async (village: string, cycles: number) => {
    const [{ resolved }] = await sql`select count(*)::int as resolved from bug_bots where village_id = ${village} and status = 'resolved'`
    const [{ shared }] = await sql`
      select count(*)::int as shared from (
        select e.bug_id from bug_bot_events e join bug_bots b on b.id = e.bug_id
        where b.village_id = ${village} and e.kind = 'claimed' group by e.bug_id having count(*) > 1) d`
    if (resolved !== cycles || shared !== 0) throw new Error(`${cycles} cycles, ${resolved} resolved, ${shared} claimed twice`)
  }

  const rest = await seed("rest")
  let cycles = 0
  const overRest = await drain(async (worker) => {
    const claim = await call("/api/agents/claim", "POST", {}, rest.agents[worker])
    if (claim.status === 204) return false
    if (claim.status !== 200) throw new Error(`claim answered ${claim.status}: ${JSON.stringify(claim.body)}`)
    const resolved = await call(`/api/bugs/${claim.body.bug.id}/status`, "PUT", { status: "resolved" }, rest.agents[worker])
    if (resolved.status !== 200) throw new Error(`resolve answered ${resolved.status}: ${JSON.stringify(resolved.body)}`)
    cycles++
    return true
  })
  await check(rest.village, cycles)
  results.push({ name: "bugbots: REST claim → resolve (HTTP, auth, lifecycle + realtime events)", items: cycles, ...overRest })

  const rpc = await seed("rpc")
  const clients = rpc.agents.map((agentToken) => ManagedRuntime.make(makeClient({ url: service.url, token: agentToken })))
  const cycle = Effect.gen(function* () {
    const client = yield* BugbotsClient
    const claimed = yield* client.Claim({})
    if (claimed === null) return false
    yield* client.ChangeStatus({ id: claimed.bug.id, status: "resolved" })
    return true
  })
  let rpcCycles = 0
  const overRpc = await drain(async (worker) => {
    const more = await clients[worker].runPromise(cycle)
    if (more) rpcCycles++
    return more
  })
  await Promise.all(clients.map((c) => c.dispose()))
  await check(rpc.village, rpcCycles)
  results.push({ name: "bugbots: RPC claim → resolve (bugbots/client, HTTP NDJSON)", items: rpcCycles, ...overRpc })

  await sql.close()
  await service.stop()
}

// --- pg-boss: fetch → complete loops ------------------------------------------------------------
{
  const databaseUrl = await freshDatabase("bench_pgboss")
  const boss = new PgBoss({ connectionString: databaseUrl, max: concurrency + 2, supervise: false, schedule: false })
  boss.on("error", (error) => console.error("pg-boss:", error))
  await boss.start()
  await boss.createQueue("noop")
  for (let i = 0; i < jobCount; i += 1000) {
    await boss.insert("noop", Array.from({ length: Math.min(1000, jobCount - i) }, (_, j) => ({ data: { n: i + j } })))
  }
  let done = 0
  const run_ = await drain(async () => {
    const [job] = await boss.fetch("noop")
    if (job === undefined) return false
    await boss.complete("noop", job.id)
    done++
    return true
  })
  results.push({ name: "pg-boss: fetch → complete", items: done, ...run_ })
  await boss.stop({ graceful: false })
}

// --- graphile-worker: the runner with concurrency 8 ---------------------------------------------
{
  const connectionString = await freshDatabase("bench_graphile")
  const logger = new Logger(() => () => {})
  const utils = await makeWorkerUtils({ connectionString, logger })
  await utils.migrate()
  for (let i = 0; i < jobCount; i += 1000) {
    await utils.addJobs(Array.from({ length: Math.min(1000, jobCount - i) }, (_, j) => ({ identifier: "noop", payload: { n: i + j } })))
  }
  await utils.release()
  let done = 0
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => (finish = resolve))
  const started = performance.now()
  const timer = setTimeout(() => finish(), windowMs)
  const runner = await run({
    connectionString,
    concurrency,
    noHandleSignals: true,
    pollInterval: 1000,
    logger,
    taskList: {
      noop: async () => {
        if (++done === jobCount) finish()
      }
    }
  })
  await finished
  const seconds = (performance.now() - started) / 1000
  const finishedJobs = done
  clearTimeout(timer)
  await runner.stop()
  results.push({ name: "graphile-worker: run, no-op task", items: finishedJobs, seconds })
}

const rate = (r: Result) => r.items / r.seconds
const pgBoss = results.find((r) => r.name.startsWith("pg-boss"))!
const graphile = results.find((r) => r.name.startsWith("graphile"))!
console.log(
  `\nClaim → finish, ${fmt(bugCount)} open bugs / ${fmt(jobCount)} queued jobs, concurrency ${concurrency}, one PostgreSQL, ` +
    `each until empty or ${windowMs / 1000} s\n`
)
console.log(
  table(
    ["system", "items", "seconds", "items/s", "p50 ms", "p99 ms", "vs pg-boss", "vs graphile-worker"],
    results.map((r) => [
      r.name,
      fmt(r.items),
      fmt(r.seconds, 1),
      fmt(rate(r)),
      r.latencies ? fmt(quantile(r.latencies, 0.5), 2) : "–",
      r.latencies ? fmt(quantile(r.latencies, 0.99), 2) : "–",
      `${fmt(rate(r) / rate(pgBoss), 2)}×`,
      `${fmt(rate(r) / rate(graphile), 2)}×`
    ])
  )
)
