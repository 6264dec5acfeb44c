import { afterAll, beforeAll, expect, test } from "bun:test"
import { Effect, Exit, Redacted, Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { embeddedPostgres } from "../src/Sql/Embedded.js"
import { restartablePort } from "./lib/Child.js"
import { client } from "./lib/Client.js"
import { makeBug, makeVillage } from "./lib/Fixtures.js"
import { startService, type TestService } from "./lib/Service.js"

/**
 * PostgreSQL going away under load: its backends terminated, then the whole server restarted. Every
 * answer is a success or a 503 with retry-after in the envelope (never a 500), and the service
 * recovers by itself. The server is a real PostgreSQL of this test's own, so restarting it disturbs
 * nothing else.
 */

const dir = path.resolve(import.meta.dir, `../.data/outage-pg-${process.pid}`)
const port = restartablePort()
let scope: Scope.CloseableScope
let url: string
let svc: TestService

const startPostgres = async () => {
  scope = Effect.runSync(Scope.make())
  url = Redacted.value(await Effect.runPromise(Scope.extend(embeddedPostgres({ dir, port }), scope)))
}
const stopPostgres = () => Effect.runPromise(Scope.close(scope, Exit.void))

beforeAll(async () => {
  await startPostgres()
  svc = await startService({ databaseUrl: url, env: { BUGBOTS_DB_POOL: "10" } })
}, 120_000)

afterAll(async () => {
  await svc?.stop()
  await stopPostgres()
  fs.rmSync(dir, { recursive: true, force: true })
})

test("terminated backends and a full restart under 20 clients give only successes or 503 with retry-after", async () => {
  const root = client(svc.baseUrl, svc.rootToken)
  const village = await makeVillage(svc)
  const bugs = await Promise.all(Array.from({ length: 20 }, () => makeBug(root, village.id, village.repoId)))
  const outcomes = new Map<number, number>()
  const bad: Array<string> = []
  let running = true

  const worker = async (bugId: string) => {
    for (let i = 0; running; i++) {
      const reply = i % 2 === 0
        ? await root.get(`/api/bugs/${bugId}`)
        : await root.put(`/api/bugs/${bugId}/status`, { status: i % 4 === 1 ? "triaged" : "open" })
      outcomes.set(reply.status, (outcomes.get(reply.status) ?? 0) + 1)
      if (reply.status === 503) {
        if (reply.body?.error?.code !== "SERVICE_UNAVAILABLE" || !(Number(reply.headers.get("retry-after")) > 0)) {
          bad.push(`503 without the envelope or retry-after: ${JSON.stringify(reply.body)}`)
        }
        await Bun.sleep(50)
      } else if (reply.status !== 200) {
        bad.push(`${reply.status} ${JSON.stringify(reply.body)}`)
      }
    }
  }
  const workers = bugs.map((bug) => worker(bug.id))

  const admin = new Bun.SQL(url)
  for (let round = 0; round < 5; round++) {
    await Bun.sleep(300)
    await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'bugbots' and pid <> pg_backend_pid()`
  }
  await admin.close()
  await Bun.sleep(300)
  await stopPostgres()
  await Bun.sleep(1500)
  await startPostgres()

  // Recovered: every client gets through again.
  const deadline = Date.now() + 20_000
  let recovered = false
  while (!recovered && Date.now() < deadline) {
    await Bun.sleep(200)
    recovered = (await root.get(`/api/bugs/${bugs[0].id}`)).status === 200
  }
  await Bun.sleep(500)
  running = false
  await Promise.all(workers)

  expect(bad).toEqual([])
  expect(recovered).toBe(true)
  expect(outcomes.get(200) ?? 0).toBeGreaterThan(0)
  expect(outcomes.get(503) ?? 0).toBeGreaterThan(0)
}, 120_000)
