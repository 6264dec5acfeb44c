/**
 * The jobs engine's claims ahead of free workers (`WorkerSpec.prefetch`): every job still runs
 * exactly once and never more than `concurrency` at once, one claim takes several jobs, and what
 * is held when the instance stops is released at once for another.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { ConfigProvider, Duration, Effect, Exit, Layer, Logger, LogLevel, Schedule, Scope } from "effect"
import { Jobs } from "../src/Jobs/Jobs.js"
import { MigrationsLive, SqlLive } from "../src/Sql/Sql.js"
import { freshDatabase } from "./lib/Service.js"

let databaseUrl: string
let sql: InstanceType<typeof Bun.SQL>

beforeAll(async () => {
  databaseUrl = (await freshDatabase()).url
  sql = new Bun.SQL(databaseUrl)
})
afterAll(() => sql.close())

/** The jobs engine of one instance on the test database, until `stop`. */
const startEngine = async () => {
  const config = ConfigProvider.fromMap(new Map([["DATABASE_URL", databaseUrl], ["LOG_LEVEL", "error"]]))
  const layer = Jobs.Default.pipe(Layer.provideMerge(MigrationsLive), Layer.provideMerge(SqlLive), Layer.provide(Layer.setConfigProvider(config)), Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  return {
    run: <A>(effect: Effect.Effect<A, unknown, Jobs | Scope.Scope>) => Effect.runPromise(effect.pipe(Effect.provide(context), Scope.extend(scope))),
    stop: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const enqueue = (kind: string, count: number) =>
  sql`insert into jobs (kind, key, payload, meta, status, max_attempts, run_at)
      select ${kind}, 'job ' || g, '{}'::jsonb, '{}'::jsonb, 'pending', 3, now() from generate_series(1, ${count}) g`

const byStatus = async (kind: string) =>
  Object.fromEntries(
    (await sql`select status, count(*)::int as n from jobs where kind = ${kind} group by status`).map((r: { status: string; n: number }) => [r.status, r.n])
  )

describe("jobs claimed ahead of free workers", () => {
  test("each runs once, at most `concurrency` at a time; one claim takes several; the held are released when the instance stops", async () => {
    const kind = "test.prefetch"
    const total = 300
    const engine = await startEngine()
    await enqueue(kind, total)
    const runs = new Map<string, number>()
    let running = 0
    let mostRunning = 0
    let mostClaimed = 0
    const sampling = setInterval(async () => {
      mostClaimed = Math.max(mostClaimed, (await byStatus(kind)).running ?? 0)
    }, 5)
    await engine.run(
      Effect.flatMap(Jobs, (jobs) =>
        jobs.run({
          kind,
          concurrency: 4,
          prefetch: 4,
          lease: Duration.seconds(30),
          retry: Schedule.spaced("1 second") as Schedule.Schedule<unknown, unknown>,
          transactional: true,
          handle: (job) =>
            Effect.acquireUseRelease(
              Effect.sync(() => {
                runs.set(job.id, (runs.get(job.id) ?? 0) + 1)
                mostRunning = Math.max(mostRunning, ++running)
              }),
              () => Effect.sleep(Duration.millis(3)),
              () => Effect.sync(() => void running--)
            ).pipe(Effect.as({ _tag: "Done" } as const))
        })
      )
    )
    while (((await byStatus(kind)).done ?? 0) < total) await Bun.sleep(20)
    clearInterval(sampling)
    expect(runs.size).toBe(total)
    expect([...runs.values()].every((n) => n === 1)).toBe(true)
    expect(mostRunning).toBe(4)
    // Claimed ahead: more held than run at once, never more than concurrency + prefetch.
    expect(mostClaimed).toBeGreaterThan(4)
    expect(mostClaimed).toBeLessThanOrEqual(8)

    // A second batch, the instance stopped while it works: nothing stays claimed by it.
    const more = "test.prefetch.stopped"
    await enqueue(more, 100)
    await engine.run(
      Effect.flatMap(Jobs, (jobs) =>
        jobs.run({
          kind: more,
          concurrency: 2,
          prefetch: 2,
          lease: Duration.seconds(30),
          retry: Schedule.spaced("1 second") as Schedule.Schedule<unknown, unknown>,
          transactional: true,
          handle: () => Effect.sleep(Duration.millis(20)).pipe(Effect.as({ _tag: "Done" } as const))
        })
      )
    )
    while (((await byStatus(more)).done ?? 0) < 10) await Bun.sleep(10)
    await engine.stop()
    const after = await byStatus(more)
    expect(after.running).toBeUndefined()
    expect((after.done ?? 0) + (after.pending ?? 0)).toBe(100)
    const [{ attempts }] = await sql`select coalesce(sum(attempts), 0)::int as attempts from jobs where kind = ${more}`
    expect(attempts).toBe(0)
  }, 60_000)
})
