/** Shared pieces of the benchmarks: databases, service processes, a closed-loop HTTP load generator. */
import { freePort, spawnService as spawnChild } from "../test/lib/Child.js"
import { createDatabase } from "../test/lib/Database.js"
import * as path from "node:path"

export const root = path.resolve(import.meta.dir, "..")

/** `bun run bench` sets it (embedded server); alone, a bench uses the machine's PostgreSQL. */
export const adminUrl = () =>
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"

export const freshDatabase = async (prefix = "bugbots_bench") => (await createDatabase(adminUrl(), prefix)).url

export { freePort }

/** The real service as its own process (test/lib/Child.ts), once `/readyz` answers 200. */
export const spawnService = async (env: Record<string, string> & { readonly DATABASE_URL: string }) => {
  const child = spawnChild(env.DATABASE_URL, { LOG_LEVEL: "warn", ...env })
  await child.ready(60_000)
  return { url: child.baseUrl, port: Number(new URL(child.baseUrl).port), pid: child.process.pid, stop: () => child.kill() }
}

/** A process running `script` (a raw baseline server), with its port passed in `PORT`. */
export const spawnScript = async (script: string, env: Record<string, string> = {}) => {
  const port = freePort()
  const child = Bun.spawn(["bun", "run", script], { cwd: root, env: { ...process.env, ...env, PORT: String(port) }, stdout: "ignore", stderr: "inherit" })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(url).then(() => true, () => false)
    if (ok) return { url, stop: async () => { child.kill("SIGTERM"); await child.exited } }
    await Bun.sleep(50)
  }
  throw new Error(`${script} did not start`)
}

export interface LoadResult {
  readonly requests: number
  readonly errors: number
  readonly rps: number
  readonly p50: number
  readonly p99: number
}

const quantile = (sorted: ReadonlyArray<number>, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0

/** `concurrency` closed loops for `durationMs` (after a short warm-up); latencies in ms. */
export const load = async (options: {
  readonly concurrency: number
  readonly durationMs: number
  readonly warmupMs?: number
  readonly send: (i: number) => Promise<Response>
  readonly ok?: (status: number) => boolean
}): Promise<LoadResult> => {
  const ok = options.ok ?? ((s) => s >= 200 && s < 300)
  let counter = 0
  const run = async (until: number, latencies: Array<number> | null) => {
    let errors = 0
    while (performance.now() < until) {
      const started = performance.now()
      const response = await options.send(counter++)
      await response.arrayBuffer()
      if (!ok(response.status)) errors++
      latencies?.push(performance.now() - started)
    }
    return errors
  }
  const warm = performance.now() + (options.warmupMs ?? 1000)
  await Promise.all(Array.from({ length: options.concurrency }, () => run(warm, null)))
  const latencies: Array<number> = []
  const started = performance.now()
  const errors = (await Promise.all(Array.from({ length: options.concurrency }, () => run(started + options.durationMs, latencies)))).reduce((a, b) => a + b, 0)
  const elapsed = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return { requests: latencies.length, errors, rps: latencies.length / elapsed, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) }
}

export const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) =>
  [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n")
