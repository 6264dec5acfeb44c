/**
 * `bun run bench [name…]`: every benchmark in this folder (or the named ones), one after another,
 * against `BENCH_DATABASE_URL` / `TEST_DATABASE_URL` when set, else an embedded PostgreSQL in
 * `.data/bench-pg`. Each prints a markdown table; run on a quiet machine, read the ratios.
 */
import { Effect, Option, Redacted } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { embeddedPostgres } from "../src/Sql/Embedded.js"

const dir = import.meta.dir
const wanted = process.argv.slice(2)
const benches = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && !["run.ts", "lib.ts"].includes(f))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.ts$/, "")))
  .sort()

const run = Effect.gen(function* () {
  const given = Option.fromNullable(process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL)
  const url = Option.isSome(given)
    ? given.value
    : Redacted.value(yield* embeddedPostgres({ dir: ".data/bench-pg", port: Number(process.env.BENCH_EMBEDDED_PG_PORT ?? 54331) }))
  let failed = 0
  for (const bench of benches) {
    console.log(`\n## ${bench.replace(/\.ts$/, "")}\n`)
    const child = Bun.spawn(["bun", "run", path.join(dir, bench)], {
      env: { ...process.env, BENCH_DATABASE_URL: url, TEST_DATABASE_URL: url },
      stdout: "inherit",
      stderr: "inherit"
    })
    const code = yield* Effect.promise(() => child.exited)
    if (code !== 0) failed++
  }
  return failed === 0 ? 0 : 1
})

process.exit(await Effect.runPromise(Effect.scoped(run)))
