import { describe, expect, test } from "bun:test"
import { freshDatabase, startService } from "./lib/Service.js"

const tables = [
  "users", "api_tokens", "villages", "village_access", "repos", "agents", "agent_sessions",
  "work_stream_events", "bug_bots", "bug_bot_events", "realtime_events"
]

describe("migrations", () => {
  test("`bun run migrate` builds the schema on an empty database, and a re-run applies nothing", async () => {
    const db = await freshDatabase()
    const migrate = () =>
      Bun.spawnSync(["bun", "run", "migrate"], { env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: "Info" }, stdout: "pipe", stderr: "pipe" })
    const first = migrate()
    expect(first.exitCode).toBe(0)
    expect(first.stdout.toString()).toContain("migrations applied")
    const sql = new Bun.SQL(db.url)
    const present = await sql`select table_name from information_schema.tables where table_schema = 'public'`
    for (const t of tables) expect(present.map((r: { table_name: string }) => r.table_name)).toContain(t)
    const applied = await sql`select count(*)::int as n from bugbots_migrations`
    const second = migrate()
    expect(second.exitCode).toBe(0)
    expect(second.stdout.toString()).not.toContain("migrations applied")
    expect((await sql`select count(*)::int as n from bugbots_migrations`)[0].n).toBe(applied[0].n)
    await sql.close()
  })

  test("instances migrating one empty database at the same time all succeed", async () => {
    const db = await freshDatabase()
    const runs = Array.from({ length: 4 }, () =>
      Bun.spawn(["bun", "run", "migrate"], { env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: "error" }, stdout: "ignore", stderr: "pipe" })
    )
    const codes = await Promise.all(runs.map((run) => run.exited))
    expect(codes).toEqual([0, 0, 0, 0])
    const sql = new Bun.SQL(db.url)
    const rows = await sql`select migration_id from bugbots_migrations order by 1`
    expect(rows.length).toBeGreaterThan(0)
    expect(new Set(rows.map((r: { migration_id: number }) => r.migration_id)).size).toBe(rows.length)
    await sql.close()
  })

  test("the service migrates at start-up and starts again on a migrated database", async () => {
    const db = await freshDatabase()
    const first = await startService({ databaseUrl: db.url })
    const ready = await fetch(`${first.baseUrl}/readyz`)
    expect(ready.status).toBe(200)
    await first.stop()
    const second = await startService({ databaseUrl: db.url })
    expect((await fetch(`${second.baseUrl}/readyz`)).status).toBe(200)
    await second.stop()
  })

  test("the unique upstream key and the status enum are enforced by the schema", async () => {
    const svc = await startService()
    try {
      const [v] = await svc.sql`insert into villages (name) values ('v') returning id`
      const [r] = await svc.sql`insert into repos (village_id, full_name) values (${v.id}, 'o/r') returning id`
      const insert = () =>
        svc.sql`insert into bug_bots (village_id, repo_id, provider, issue_id, title, source) values (${v.id}, ${r.id}, 'github', 42, 't', 'webhook')`
      await insert()
      expect(insert()).rejects.toThrow()
      expect(svc.sql`update bug_bots set status = 'sleeping'`).rejects.toThrow()
    } finally {
      await svc.stop()
    }
  })
})
