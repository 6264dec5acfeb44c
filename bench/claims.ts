/**
 * Issue 10 (claims): claim → resolve cycles with 8 agents — over REST (`POST /api/agents/claim`, then
 * `PUT /api/bugs/{id}/status` resolved) and over RPC (`bugbots/client`), each agent in a village of
 * 20,000 open bugs — alternating round by round, on the same PostgreSQL at the same concurrency, with
 * pg-boss (8 loops of `fetch` → `complete`, the same claim/finish pair without the HTTP hop) and
 * graphile-worker (`run` with concurrency 8 and a no-op task).
 *
 * Every side starts each window with the same backlog (what it finished is put back after its
 * window) and is measured for BENCH_SECONDS after a 1 s warm-up: items/s, p50/p99 of a cycle, and
 * CPU ms per item of the process that does the work — the service for bugbots, this process for the
 * queues, which run in it — and of the PostgreSQL backends of the side's database.
 *
 * Knobs: BENCH_CLAIM_BUGS (default 20000), BENCH_JOBS (default 60000), BENCH_AGENTS (default 8),
 * BENCH_SECONDS, BENCH_ROUNDS.
 */
import { Logger, makeWorkerUtils, run } from "graphile-worker"
import { PgBoss } from "pg-boss"
import { Effect, ManagedRuntime } from "effect"
import * as fs from "node:fs"
import { BugbotsClient, makeClient } from "../src/Rpc/Client.js"
import { alternate, alternating, cpuMs, fmt, freshDatabase, median, quantile, ranWith, ratio, spawnService, table, windowMs } from "./lib.js"

const bugCount = Number(process.env.BENCH_CLAIM_BUGS ?? 20_000)
const jobCount = Number(process.env.BENCH_JOBS ?? 60_000)
const concurrency = Number(process.env.BENCH_AGENTS ?? 8)
const warmupMs = 1000
const token = "bench-root-token"

/** CPU ms so far of the PostgreSQL backends serving `sql`'s database, by pid; empty when they are not on this machine. */
const backendsCpu = async (sql: Bun.SQL) => {
  const pids: Array<{ pid: number }> = await sql`select pid from pg_stat_activity where datname = current_database()`
  const cpu = new Map<number, number>()
  for (const { pid } of pids) {
    if (fs.existsSync(`/proc/${pid}/stat`)) cpu.set(pid, cpuMs(pid))
  }
  return cpu
}
const cpuSince = (before: Map<number, number>, after: Map<number, number>) =>
  after.size === 0 ? NaN : [...after].reduce((sum, [pid, ms]) => sum + ms - (before.get(pid) ?? 0), 0)

interface Measured {
  readonly items: number
  readonly rate: number
  readonly p50: number
  readonly p99: number
  /** CPU ms per item of the process doing the work, and of the database's PostgreSQL backends. */
  readonly cpuPerItem: number
  readonly databaseCpuPerItem: number
}

/** A measured window around `during` (which resolves with per-item latencies, or just a count). */
const measured = async (pid: number, sql: Bun.SQL, during: () => Promise<ReadonlyArray<number> | number>): Promise<Measured> => {
  const cpu = cpuMs(pid)
  const database = await backendsCpu(sql)
  const started = performance.now()
  const outcome = await during()
  const seconds = (performance.now() - started) / 1000
  const cpuUsed = cpuMs(pid) - cpu
  const databaseUsed = cpuSince(database, await backendsCpu(sql))
  const latencies = typeof outcome === "number" ? [] : [...outcome].sort((a, b) => a - b)
  const items = typeof outcome === "number" ? outcome : outcome.length
  return {
    items,
    rate: items / seconds,
    p50: latencies.length > 0 ? quantile(latencies, 0.5) : NaN,
    p99: latencies.length > 0 ? quantile(latencies, 0.99) : NaN,
    cpuPerItem: cpuUsed / items,
    databaseCpuPerItem: databaseUsed / items
  }
}

/** `concurrency` loops of `step` for `durationMs`, with the latency of each step; `step` answers false when its queue ran dry. */
const loops = async (durationMs: number, step: (worker: number) => Promise<boolean>) => {
  const latencies: Array<number> = []
  const until = performance.now() + durationMs
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < until) {
        const started = performance.now()
        if (!(await step(worker))) throw new Error("a queue ran dry within a window: raise BENCH_CLAIM_BUGS or BENCH_JOBS")
        latencies.push(performance.now() - started)
      }
    })
  )
  return latencies
}

/** A side that works by `step`: warm-up, measured window, then `refill` with as many items as it took. */
const stepping = (pid: number, sql: Bun.SQL, step: (worker: number) => Promise<boolean>, refill: (n: number) => Promise<void>) => async () => {
  const warm = await loops(warmupMs, step)
  const result = await measured(pid, sql, () => loops(windowMs, step))
  await refill(warm.length + result.items)
  return result
}

// --- bugbots: the service as its own process; agents over REST and over RPC ---------------------
const bugbotsUrl = await freshDatabase()
const service = await spawnService({ DATABASE_URL: bugbotsUrl, BUGBOTS_BOOTSTRAP_TOKEN: token, BUGBOTS_DB_POOL: "16" })
const call = async (path: string, method: string, body: unknown, bearer = token) => {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    body: JSON.stringify(body)
  })
  return { status: response.status, body: response.status === 204 ? null : await response.json() }
}
const bugbotsSql = new Bun.SQL(bugbotsUrl)
const addBugs = (village: { id: string; repo: string }, n: number) => bugbotsSql`
  insert into bug_bots (village_id, repo_id, provider, source, title, status, severity, created_at, updated_at)
  select ${village.id}, ${village.repo}, 'manual', 'manual', 'bug ' || g, 'open',
         (array['critical','high','medium','low'])[1 + g % 4]::bug_severity,
         now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval
  from generate_series(1, ${n}) g`
/** A village with `bugCount` open bugs (of every severity) and `concurrency` agents; their tokens. */
const seed = async (name: string) => {
  const village = (await call("/api/villages", "POST", { name })).body
  const repo = (await call(`/api/villages/${village.id}/repos`, "POST", { full_name: `bench/${name}` })).body
  const agents: Array<string> = []
  for (let i = 0; i < concurrency; i++) agents.push((await call(`/api/villages/${village.id}/agents`, "POST", { name: `agent-${i}` })).body.token)
  const seeded = { id: village.id as string, repo: repo.id as string, agents, cycles: 0 }
  await addBugs(seeded, bugCount)
  return seeded
}
/** Every bug resolved was claimed, and no bug was claimed twice. */
const check = async (village: { id: string; cycles: number }) => {
  const [{ resolved }] = await bugbotsSql`select count(*)::int as resolved from bug_bots where village_id = ${village.id} and status = 'resolved'`
  const [{ shared }] = await bugbotsSql`
    select count(*)::int as shared from (
      select e.bug_id from bug_bot_events e join bug_bots b on b.id = e.bug_id
      where b.village_id = ${village.id} and e.kind = 'claimed' group by e.bug_id having count(*) > 1) d`
  if (resolved !== village.cycles || shared !== 0) throw new Error(`${village.cycles} cycles, ${resolved} resolved, ${shared} claimed twice`)
}

const rest = await seed("rest")
const rpc = await seed("rpc")
await bugbotsSql`analyze bug_bots`
const restCycle = async (worker: number) => {
  const claim = await call("/api/agents/claim", "POST", {}, rest.agents[worker])
  if (claim.status === 204) return false
  if (claim.status !== 200) throw new Error(`claim answered ${claim.status}: ${JSON.stringify(claim.body)}`)
  const resolved = await call(`/api/bugs/${claim.body.bug.id}/status`, "PUT", { status: "resolved" }, rest.agents[worker])
  if (resolved.status !== 200) throw new Error(`resolve answered ${resolved.status}: ${JSON.stringify(resolved.body)}`)
  rest.cycles++
  return true
}
const clients = rpc.agents.map((agentToken) => ManagedRuntime.make(makeClient({ url: service.url, token: agentToken })))
const rpcCycle = Effect.gen(function* () {
  const client = yield* BugbotsClient
  const claimed = yield* client.Claim({})
  if (claimed === null) return false
  yield* client.ChangeStatus({ id: claimed.bug.id, status: "resolved" })
  rpc.cycles++
  return true
})

// --- pg-boss: fetch → complete loops, in this process ------------------------------------------
const bossUrl = await freshDatabase("bench_pgboss")
const bossSql = new Bun.SQL(bossUrl)
const boss = new PgBoss({ connectionString: bossUrl, max: concurrency + 2, supervise: false, schedule: false })
boss.on("error", (error) => console.error("pg-boss:", error))
await boss.start()
await boss.createQueue("noop")
const addBossJobs = async (n: number) => {
  for (let i = 0; i < n; i += 1000) await boss.insert("noop", Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ data: { n: i + j } })))
}
await addBossJobs(jobCount)
const bossCycle = async () => {
  const [job] = await boss.fetch("noop")
  if (job === undefined) return false
  await boss.complete("noop", job.id)
  return true
}

// --- graphile-worker: a runner with concurrency 8 per window, in this process ---------------------
const graphileUrl = await freshDatabase("bench_graphile")
const graphileSql = new Bun.SQL(graphileUrl)
const logger = new Logger(() => () => {})
const utils = await makeWorkerUtils({ connectionString: graphileUrl, logger })
await utils.migrate()
const addGraphileJobs = async (n: number) => {
  for (let i = 0; i < n; i += 1000) {
    await utils.addJobs(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ identifier: "noop", payload: { n: i + j } })))
  }
}
await addGraphileJobs(jobCount)
const graphile = async () => {
  let done = 0
  const runner = await run({
    connectionString: graphileUrl,
    concurrency,
    noHandleSignals: true,
    pollInterval: 1000,
    logger,
    taskList: {
      noop: async () => {
        done++
      }
    }
  })
  await Bun.sleep(warmupMs)
  const result = await measured(process.pid, graphileSql, async () => {
    const before = done
    await Bun.sleep(windowMs)
    return done - before
  })
  await runner.stop()
  if (done >= jobCount) throw new Error("graphile-worker ran dry within a window: raise BENCH_JOBS")
  await addGraphileJobs(done)
  return result
}

const [bossWindows, restWindows, graphileWindows, rpcWindows] = await alternate("claims", [
  ["pg-boss", stepping(process.pid, bossSql, bossCycle, addBossJobs)],
  ["bugbots REST", stepping(service.pid, bugbotsSql, restCycle, (n) => addBugs(rest, n))],
  ["graphile-worker", graphile],
  ["bugbots RPC", stepping(service.pid, bugbotsSql, (worker) => clients[worker].runPromise(rpcCycle), (n) => addBugs(rpc, n))]
])
await check(rest)
await check(rpc)

await Promise.all(clients.map((c) => c.dispose()))
await service.stop()
await boss.stop({ graceful: false })
await utils.release()
await Promise.all([bugbotsSql.close(), bossSql.close(), graphileSql.close()])

const summary = (windows: ReadonlyArray<Measured>) => ({
  rate: median(windows.map((w) => w.rate)),
  p50: median(windows.map((w) => w.p50)),
  p99: median(windows.map((w) => w.p99)),
  cpuPerItem: median(windows.map((w) => w.cpuPerItem)),
  databaseCpuPerItem: median(windows.map((w) => w.databaseCpuPerItem))
})
const pgBoss = summary(bossWindows)
const graphileWorker = summary(graphileWindows)
const rows = (
  [
    ["bugbots: REST claim → resolve (HTTP, auth, lifecycle + realtime events)", summary(restWindows)],
    ["bugbots: RPC claim → resolve (bugbots/client, HTTP NDJSON)", summary(rpcWindows)],
    ["pg-boss: fetch → complete", pgBoss],
    ["graphile-worker: run, no-op task", graphileWorker]
  ] as const
).map(([name, s]) => [
  name,
  fmt(s.rate),
  Number.isNaN(s.p50) ? "–" : fmt(s.p50, 2),
  Number.isNaN(s.p99) ? "–" : fmt(s.p99, 2),
  fmt(s.cpuPerItem, 3),
  Number.isNaN(s.databaseCpuPerItem) ? "–" : fmt(s.databaseCpuPerItem, 3),
  ratio(s.rate, pgBoss.rate),
  ratio(s.rate, graphileWorker.rate)
])

console.log(
  `\nClaim → finish, ${concurrency} at once, a backlog of ${fmt(bugCount)} open bugs / ${fmt(jobCount)} queued jobs at the start of every window, one PostgreSQL\n`
)
console.log(
  table(["system", "items/s (median)", "p50 ms", "p99 ms", "CPU ms/item (service or queue client)", "PostgreSQL CPU ms/item", "vs pg-boss", "vs graphile-worker"], rows)
)
console.log(
  `\nbugbots: ${fmt(rest.cycles)} REST and ${fmt(rpc.cycles)} RPC cycles in all, every resolved bug claimed once.\n\n` +
    (await ranWith(service.settings, [alternating, `${warmupMs / 1000} s warm-up per window`, "PostgreSQL CPU summed over the backends of each side's database"]))
)
