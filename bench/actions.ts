/**
 * Issue 12 (bot actions): BENCH_ACTIONS (default 20,000) `UPSERT_PR_COMMENT` actions executed by
 * the service's in-process executor (concurrency 8) against the GitHub stand-in of test/lib, beside
 * pg-boss processing as many no-op jobs with 8 fetch → complete loops, on the same PostgreSQL.
 *
 * The work is split into BENCH_ROUNDS rounds, each side draining its share in turn (bugbots,
 * pg-boss, bugbots, …): a round enqueues its share at once and is timed until the last item is
 * done. A bugbots action is a real execution: the executor claims it under a lease, lists the pull
 * request's comments (as its installation, token cached), creates the comment, and settles the
 * job. Each action is a pull request of its own, so each creates one comment; the stand-in counts
 * them at the end. The stand-in answers from this process; GitHub's pacing of writes
 * (BUGBOTS_GITHUB_WRITE_INTERVAL) is off, as it would be against a real GitHub only across installations.
 */
import { PgBoss } from "pg-boss"
import { startGitHubApi } from "../test/lib/GitHubApi.js"
import { alternate, cpuMs, fmt, freshDatabase, median, ranWith, ratio, rounds, spawnService, table } from "./lib.js"

const total = Number(process.env.BENCH_ACTIONS ?? 20_000)
const concurrency = 8
const perRound = Math.ceil(total / rounds)

const github = await startGitHubApi()
const bugbotsUrl = await freshDatabase()
const service = await spawnService({
  DATABASE_URL: bugbotsUrl,
  GITHUB_APP_ID: String(github.appId),
  GITHUB_APP_PRIVATE_KEY: github.privateKeyPem,
  GITHUB_API_URL: github.url,
  BUGBOTS_GITHUB_WRITE_INTERVAL: "0 millis",
  BUGBOTS_EXECUTOR_CONCURRENCY: String(concurrency),
  // The leader's reconciler and recovery would call the stand-in too: kept out of the measured rounds.
  BUGBOTS_RECONCILE_INTERVAL: "1 day",
  BUGBOTS_RECOVERY_INTERVAL: "1 day"
})
const sql = new Bun.SQL(bugbotsUrl)

let enqueued = 0
/** `n` actions, each for a pull request of its own, enqueued in one statement as the service stores them. */
const enqueueActions = async (n: number) => {
  const from = enqueued
  enqueued += n
  await sql`
    insert into jobs (kind, key, payload, meta, status, max_attempts, run_at)
    select 'github.action', null,
           jsonb_build_object('type', 'UPSERT_PR_COMMENT', 'installation_id', 1, 'repo_full_name', 'bench/repo-' || (g % 100),
                              'number', g, 'marker', 'gate', 'body', 'Please comment /verify before the deadline (' || g || ').'),
           jsonb_build_object('serial', 'bench/repo-' || (g % 100) || '#' || g || ':gate'), 'pending', 8, now()
    from generate_series(${from + 1}, ${from + n}) g`
  await sql`select pg_notify('bugbots_jobs', 'github.action')`
}

interface Drained {
  readonly items: number
  readonly seconds: number
  readonly rate: number
  readonly cpuPerItem: number
}

const bugbotsRound = async (): Promise<Drained> => {
  const cpu = cpuMs(service.pid)
  const started = performance.now()
  await enqueueActions(perRound)
  for (;;) {
    const [{ open }] = await sql`select count(*)::int as open from jobs where kind = 'github.action' and status in ('pending', 'running')`
    if (open === 0) break
    await Bun.sleep(20)
  }
  const seconds = (performance.now() - started) / 1000
  return { items: perRound, seconds, rate: perRound / seconds, cpuPerItem: (cpuMs(service.pid) - cpu) / perRound }
}

const bossUrl = await freshDatabase("bench_pgboss")
const boss = new PgBoss({ connectionString: bossUrl, max: concurrency + 2, supervise: false, schedule: false })
boss.on("error", (error) => console.error("pg-boss:", error))
await boss.start()
await boss.createQueue("noop")

const bossRound = async (): Promise<Drained> => {
  for (let i = 0; i < perRound; i += 1000) {
    await boss.insert("noop", Array.from({ length: Math.min(1000, perRound - i) }, (_, j) => ({ data: { n: i + j } })))
  }
  const cpu = cpuMs(process.pid)
  const started = performance.now()
  let done = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const [job] = await boss.fetch("noop")
        if (job === undefined) return
        await boss.complete("noop", job.id)
        done++
      }
    })
  )
  const seconds = (performance.now() - started) / 1000
  return { items: done, seconds, rate: done / seconds, cpuPerItem: (cpuMs(process.pid) - cpu) / done }
}

const [bugbotsRounds, bossRounds] = await alternate("actions", [
  ["bugbots executor", bugbotsRound],
  ["pg-boss", bossRound]
])

const [{ done, failed, retried }] = await sql`
  select count(*) filter (where status = 'done')::int as done, count(*) filter (where status = 'failed')::int as failed,
         count(*) filter (where attempts > 0)::int as retried
  from jobs where kind = 'github.action'`
const comments = github.calls.filter((c) => c.method === "POST" && /\/issues\/\d+\/comments$/.test(c.path) && c.status === 201).length
const tokens = github.callsTo("POST", /\/access_tokens$/).length
if (done !== enqueued || failed !== 0 || comments !== enqueued) {
  throw new Error(`${enqueued} actions: ${done} done, ${failed} failed, ${comments} comments created`)
}

await service.stop()
await boss.stop({ graceful: false })
await sql.close()
github.stop()

const summary = (windows: ReadonlyArray<Drained>) => ({
  items: windows.reduce((sum, w) => sum + w.items, 0),
  seconds: windows.reduce((sum, w) => sum + w.seconds, 0),
  rate: median(windows.map((w) => w.rate)),
  cpuPerItem: median(windows.map((w) => w.cpuPerItem))
})
const ours = summary(bugbotsRounds)
const theirs = summary(bossRounds)

console.log(`\nBot actions against the GitHub stand-in vs pg-boss no-op jobs, ${concurrency} at once, one PostgreSQL\n`)
console.log(
  table(
    ["system", "items", "seconds (all rounds)", "items/s (median round)", "CPU ms/item (service or queue client)", "vs pg-boss"],
    [
      [
        "bugbots: in-process executor, UPSERT_PR_COMMENT (claim, list comments, create, settle)",
        fmt(ours.items),
        fmt(ours.seconds, 1),
        fmt(ours.rate),
        fmt(ours.cpuPerItem, 3),
        ratio(ours.rate, theirs.rate)
      ],
      ["pg-boss: fetch → complete, no-op", fmt(theirs.items), fmt(theirs.seconds, 1), fmt(theirs.rate), fmt(theirs.cpuPerItem, 3), "1.00×"]
    ]
  )
)
console.log(
  `\nbugbots: ${fmt(done)} actions done, ${failed} failed, ${retried} retried, ${fmt(comments)} comments created on the stand-in ` +
    `with ${tokens} installation token request(s).\n\n` +
    (await ranWith(service.settings, [
      `${rounds} rounds, each side draining ${fmt(perRound)} items in turn (timed from enqueue to the last done); medians of the rounds reported`,
      "the GitHub stand-in runs in the bench process"
    ]))
)
