/**
 * `bugbots seed` (`bun run seed`): demo data — a village with two repos, three users with roles, two agents and a
 * spread of bugs in every status. Idempotent: it finds what exists by its natural keys. It goes
 * through the owners of each table, like every other writer.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { Agents } from "../Agents/Agents.js"
import { Bugs, decodeJson } from "../Bugs/Bugs.js"
import type { BugStatus, Severity } from "../Domain/Bug.js"
import { systemActor } from "../Domain/BugLifecycle.js"
import { MigrationsLive, SqlLive } from "../Sql/Sql.js"
import { Users } from "../Users/Users.js"
import { Villages } from "../Villages/Villages.js"

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
  const sql = yield* SqlClient.SqlClient
  const villages = yield* Villages
  const people = yield* Users
  const agents = yield* Agents
  const bugs = yield* Bugs
  const owner = { id: 9000001, name: "acme" }
  const villageId = yield* villages.provisionVillage(owner)
  const repos = yield* Effect.forEach([["acme/api", 9100001], ["acme/web", 9100002]] as const, ([full_name, id]) =>
    villages.provisionRepo({ id, full_name }, owner)
  )
  for (const user of users) {
    const userId = yield* people.ensure(user.login, user.email)
    yield* villages.grant(villageId, userId, user.role)
  }
  const agentIds = yield* Effect.forEach(["fixer-1", "fixer-2"], (name) => agents.ensure(villageId, name, "llm"))
  for (const issue of issues) {
    const repo = repos[issue.repo]
    const written = yield* sql.withTransaction(
      bugs.syncFromUpstream({
        repo,
        issue_id: issue.n,
        issue_number: issue.n,
        source: "webhook",
        metadata: { seeded: true },
        view: { title: issue.title, description: `Seeded demo issue #${issue.n}.`, severity: issue.severity, action: "seeded", source: "seed" }
      })
    )
    const [bug] = yield* decodeJson([written.json])
    // Statuses are set once: a bug moved already (now or by anyone since) keeps where it is.
    if (bug.version > 1) continue
    const agentId = issue.agent === undefined ? undefined : agentIds[issue.agent]
    for (const status of issue.status === "awaiting_verification" ? (["in_progress", issue.status] as const) : issue.status === "open" ? [] : [issue.status]) {
      yield* bugs.setStatus(bug.id, systemActor, { status, agent_id: agentId, reason: "seed" })
    }
  }
  yield* Effect.logInfo("seeded demo data").pipe(Effect.annotateLogs({ village: villageId }))
})

/** Seeds through the owners of the tables, on the configured database (migrated first). */
export const seedDemo = seed.pipe(
  Effect.provide(Layer.mergeAll(Bugs.Default, Villages.Default, Users.Default, Agents.Default).pipe(Layer.provideMerge(MigrationsLive), Layer.provideMerge(SqlLive)))
)
