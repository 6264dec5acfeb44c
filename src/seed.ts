/**
 * `bun run seed`: demo data — a village with two repos, three users with roles, two agents and a
 * spread of bugs in every status. Idempotent: it finds what exists by its natural keys.
 */
import { BunRuntime } from "@effect/platform-bun"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer } from "effect"
import { Bugs, systemActor } from "./Bugs/Bugs.js"
import type { BugStatus, Severity } from "./Domain/Bug.js"
import { AgentId } from "./Domain/Ids.js"
import { AppConfig } from "./Config.js"
import { LoggingLive } from "./Logging.js"
import { MigrationsLive, SqlLive } from "./Sql/Sql.js"

const users = [
  { login: "alice", email: "alice@example.com", role: "maintainer" },
  { login: "bob", email: "bob@example.com", role: "triager" },
  { login: "carol", email: "carol@example.com", role: "operator" }
] as const

const issues: ReadonlyArray<{ n: number; repo: 0 | 1; title: string; severity: Severity | null; status: BugStatus; agent?: 0 | 1 }> = [
  { n: 101, repo: 0, title: "Checkout returns 500 when the cart is empty", severity: "critical", status: "open" },
  { n: 102, repo: 0, title: "Rate limiter counts OPTIONS requests", severity: "medium", status: "triaged" },
  { n: 103, repo: 0, title: "Webhook retries ignore Retry-After", severity: "high", status: "assigned", agent: 0 },
  { n: 104, repo: 0, title: "Pagination skips rows inserted during a scan", severity: "high", status: "in_progress", agent: 1 },
  { n: 105, repo: 0, title: "Typo in the 404 page", severity: "low", status: "resolved" },
  { n: 201, repo: 1, title: "Dark mode toggle forgets its state", severity: "low", status: "open" },
  { n: 202, repo: 1, title: "Dashboard freezes with 5,000 rows", severity: "high", status: "awaiting_verification", agent: 0 },
  { n: 203, repo: 1, title: "Login form submits twice on Enter", severity: "medium", status: "closed" },
  { n: 204, repo: 1, title: "Chart tooltips overflow the viewport", severity: null, status: "open" }
]

const seed = Effect.gen(function* () {
  const sql = yield* PgClient.PgClient
  const bugs = yield* Bugs
  const [village] = yield* sql<{ id: string }>`
    insert into villages (name, github_org_id) values ('acme', 9000001)
    on conflict (github_org_id) do update set name = excluded.name returning id`
  const repos = yield* Effect.forEach([["acme/api", 9100001], ["acme/web", 9100002]] as const, ([name, githubId]) =>
    sql<{ id: string }>`
      insert into repos (village_id, full_name, github_repo_id) values (${village.id}, ${name}, ${githubId})
      on conflict (github_repo_id) do update set full_name = excluded.full_name returning id`.pipe(Effect.map((rows) => rows[0].id))
  )
  for (const user of users) {
    const [row] = yield* sql<{ id: string }>`
      insert into users (login, email) values (${user.login}, ${user.email})
      on conflict (login) do update set email = excluded.email returning id`
    yield* sql`
      insert into village_access (village_id, user_id, role) values (${village.id}, ${row.id}, ${user.role})
      on conflict (village_id, user_id) do update set role = excluded.role`
  }
  const agents = yield* Effect.forEach(["fixer-1", "fixer-2"], (name) =>
    sql<{ id: string }>`
      insert into agents (village_id, name, kind) values (${village.id}, ${name}, 'llm')
      on conflict (village_id, name) do update set kind = excluded.kind returning id`.pipe(Effect.map((rows) => rows[0].id))
  )
  let created = 0
  for (const issue of issues) {
    const repoId = repos[issue.repo]
    const existing = yield* sql`select 1 from bug_bots where provider = 'github' and repo_id = ${repoId} and issue_id = ${issue.n}`
    if (existing.length > 0) continue
    const bug = yield* bugs.insert(
      {
        village_id: village.id, repo_id: repoId, provider: "github", source: "webhook", issue_id: issue.n, issue_number: issue.n,
        title: issue.title, description: `Seeded demo issue #${issue.n}.`, status: "open", severity: issue.severity, category: null,
        metadata: { seeded: true }
      },
      systemActor
    )
    const agentId = issue.agent === undefined ? undefined : AgentId.make(agents[issue.agent])
    for (const status of issue.status === "awaiting_verification" ? (["in_progress", issue.status] as const) : issue.status === "open" ? [] : [issue.status]) {
      yield* bugs.mutate(bug.id, systemActor, (current) => bugs.planStatus(current, { status, agent_id: agentId, reason: "seed" }))
    }
    created++
  }
  yield* Effect.logInfo("seeded demo data").pipe(Effect.annotateLogs({ village: village.id, bugs_created: created }))
})

seed.pipe(
  Effect.provide(Bugs.Default.pipe(Layer.provideMerge(MigrationsLive), Layer.provideMerge(SqlLive))),
  Effect.provide(LoggingLive),
  Effect.provide(AppConfig.Default),
  (main) => BunRuntime.runMain(main, { disablePrettyLogger: true })
)
