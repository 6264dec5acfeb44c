/**
 * Shared pieces of the benchmarks: databases, service and baseline processes, their CPU time, a
 * closed-loop HTTP load generator, and rounds that alternate a scenario with its baselines.
 *
 * Knobs every bench reads: BENCH_SECONDS (measured window, default 8), BENCH_ROUNDS (default 3), and
 * BENCH_CPU_PROF (a folder: the service writes its `bun --cpu-prof` and `--cpu-prof-md` profiles there when it stops).
 */
import { freePort, spawnService as spawnChild } from "../test/lib/Child.js"
import { createDatabase } from "../test/lib/Database.js"
import { tcpRows } from "../test/lib/Proc.js"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const root = path.resolve(import.meta.dir, "..")

/** `bun run bench` sets it (embedded server); alone, a bench uses the machine's PostgreSQL. */
export const adminUrl = () =>
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"

export const freshDatabase = async (prefix = "bugbots_bench") => (await createDatabase(adminUrl(), prefix)).url

export { freePort }

export const windowMs = Number(process.env.BENCH_SECONDS ?? 8) * 1000
export const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
if (!(rounds >= 2)) throw new Error("BENCH_ROUNDS must be at least 2: a scenario and its baseline alternate")

const ticksPerSecond = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim())

/** CPU time (user + system, every thread) process `pid` has used so far, in ms, from `/proc/<pid>/stat`. */
export const cpuMs = (pid: number) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond
}

const linkOf = (fd: string) => {
  try {
    return fs.readlinkSync(fd)
  } catch {
    return ""
  }
}

/**
 * The process, `pid` or one of its descendants, that holds the socket listening on `port`: the one
 * whose CPU time is the server's, should a launcher (`bun run start`) sit in between.
 */
export const servingPid = (pid: number, port: number) => {
  const listening = new Set(tcpRows().filter((row) => row.localPort === port && row.state === "0A").map((row) => `socket:[${row.inode}]`))
  const queue = [pid]
  for (let candidate = queue.shift(); candidate !== undefined; candidate = queue.shift()) {
    const fds = fs.readdirSync(`/proc/${candidate}/fd`)
    if (fds.some((fd) => listening.has(linkOf(`/proc/${candidate}/fd/${fd}`)))) return candidate
    for (const task of fs.readdirSync(`/proc/${candidate}/task`)) {
      queue.push(...fs.readFileSync(`/proc/${candidate}/task/${task}/children`, "utf8").split(" ").filter(Boolean).map(Number))
    }
  }
  throw new Error(`neither process ${pid} nor its descendants listen on port ${port}`)
}

/** The rate limits the service has (every `*RATE_LIMIT*` setting src/Config.ts reads), as the bench ran it. */
const rateLimitsOf = (env: Record<string, string | undefined>) =>
  [...fs.readFileSync(path.join(root, "src/Config.ts"), "utf8").matchAll(/"(\w*RATE_LIMIT\w*)"/g)].map(
    ([, key]) => `${key}=${env[key] ?? "(default)"}`
  )

/** The service's settings that change its speed, as the bench ran it (secrets and URLs left out), and its rate limits. */
const settingsOf = (env: Record<string, string | undefined>) => ({
  values: Object.entries(env)
    .filter(([key]) => /^(BUGBOTS_|LOG_)/.test(key) && key !== "BUGBOTS_BOOTSTRAP_TOKEN" && !key.includes("RATE_LIMIT"))
    .map(([key, value]) => `${key}=${value}`)
    .sort(),
  rateLimits: rateLimitsOf(env)
})

/** The real service as its own process (`bun run src/main.ts`, test/lib/Child.ts), once `/readyz` answers 200. */
export const spawnService = async (env: Record<string, string> & { readonly DATABASE_URL: string }) => {
  const settings = { LOG_LEVEL: "warn", ...env }
  const profile = process.env.BENCH_CPU_PROF
  const child = spawnChild(env.DATABASE_URL, settings, {
    bunFlags: profile ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${path.resolve(profile)}`] : []
  })
  await child.ready(60_000)
  const port = Number(new URL(child.baseUrl).port)
  return {
    url: child.baseUrl,
    port,
    pid: servingPid(child.process.pid, port),
    settings: settingsOf({ ...process.env, ...settings }),
    stop: () => child.kill()
  }
}

/** A process running `script` (a baseline server), with its port passed in `PORT`. */
export const spawnScript = async (script: string, env: Record<string, string> = {}) => {
  const port = freePort()
  const child = Bun.spawn(["bun", "run", script], { cwd: root, env: { ...process.env, ...env, PORT: String(port) }, stdout: "ignore", stderr: "inherit" })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(url).then(() => true, () => false)
    if (ok) return { url, pid: servingPid(child.pid, port), stop: async () => { child.kill("SIGTERM"); await child.exited } }
    await Bun.sleep(50)
  }
  throw new Error(`${script} did not start`)
}

/** One measured window of closed-loop load. Latencies in ms; CPU in ms per request. */
export interface Window {
  readonly requests: number
  readonly errors: number
  readonly rps: number
  readonly p50: number
  readonly p99: number
  /** CPU time of the process under load during the window, per request. */
  readonly cpuPerRequest: number
  /** The same for this process, the load generator. */
  readonly clientCpuPerRequest: number
}

export const quantile = (sorted: ReadonlyArray<number>, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0

export const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/**
 * `concurrency` closed loops of `send` for `windowMs`, after a warm-up of `warmupMs` (default 1 s)
 * that is not measured; the CPU time of process `pid` is sampled around the measured window.
 *
 * The loops run in this one process: a `fetch` costs the client about twice the CPU a raw
 * `Bun.serve` spends answering it, so on two cores more load processes only take CPU from the
 * server (measured against a raw server: 30k req/s from one process, 27k from two, 22k from four).
 */
export const load = async (options: {
  readonly pid: number
  readonly concurrency: number
  readonly send: () => Promise<Response>
  readonly warmupMs?: number
  readonly ok?: (status: number) => boolean
}): Promise<Window> => {
  const ok = options.ok ?? ((s) => s >= 200 && s < 300)
  const run = async (until: number, latencies: Array<number> | null) => {
    let errors = 0
    while (performance.now() < until) {
      const started = performance.now()
      const response = await options.send()
      await response.arrayBuffer()
      if (!ok(response.status)) errors++
      latencies?.push(performance.now() - started)
    }
    return errors
  }
  const warm = performance.now() + (options.warmupMs ?? 1000)
  await Promise.all(Array.from({ length: options.concurrency }, () => run(warm, null)))
  const latencies: Array<number> = []
  const cpu = cpuMs(options.pid)
  const clientCpu = cpuMs(process.pid)
  const started = performance.now()
  const errors = (await Promise.all(Array.from({ length: options.concurrency }, () => run(started + windowMs, latencies)))).reduce((a, b) => a + b, 0)
  const elapsed = (performance.now() - started) / 1000
  const requests = latencies.length
  const cpuPerRequest = (cpuMs(options.pid) - cpu) / requests
  const clientCpuPerRequest = (cpuMs(process.pid) - clientCpu) / requests
  latencies.sort((a, b) => a - b)
  return { requests, errors, rps: requests / elapsed, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), cpuPerRequest, clientCpuPerRequest }
}

/** The medians of a side's windows (errors summed). */
export const medians = (windows: ReadonlyArray<Window>) => ({
  rps: median(windows.map((w) => w.rps)),
  p50: median(windows.map((w) => w.p50)),
  p99: median(windows.map((w) => w.p99)),
  cpuPerRequest: median(windows.map((w) => w.cpuPerRequest)),
  clientCpuPerRequest: median(windows.map((w) => w.clientCpuPerRequest)),
  errors: windows.reduce((sum, w) => sum + w.errors, 0)
})

/**
 * `rounds` rounds of every side in the order given (baseline, scenario, baseline, scenario, …), so
 * the noise of a shared machine falls on every side alike; each side's results in round order.
 */
export const alternate = async <const Sides extends ReadonlyArray<readonly [name: string, run: () => Promise<unknown>]>>(
  label: string,
  sides: Sides
) => {
  const results = sides.map(() => [] as Array<unknown>)
  for (let round = 1; round <= rounds; round++) {
    for (const [i, [name, run]] of sides.entries()) {
      const result = await run()
      results[i].push(result)
      console.error(`${label}, round ${round}/${rounds}, ${name}: ${JSON.stringify(result, (_, v) => (typeof v === "number" ? Number(v.toFixed(3)) : v))}`)
    }
  }
  return results as { -readonly [K in keyof Sides]: Array<Awaited<ReturnType<Sides[K][1]>>> }
}

/** How the benches that alternate measure, for their reports. */
export const alternating = `${rounds} rounds of ${windowMs / 1000} s windows, baseline and scenario alternating; medians reported`

/** One line saying what a bench ran with: machine, PostgreSQL, how it measured, the service's settings, rate limits. */
export const ranWith = async (service: ReturnType<typeof settingsOf>, method: ReadonlyArray<string>) => {
  const sql = new Bun.SQL(adminUrl())
  const [{ server_version }] = await sql`show server_version`
  await sql.close()
  return [
    `Ran with bun ${Bun.version}, ${os.cpus().length} CPUs (load average ${os.loadavg()[0].toFixed(1)} at the end), PostgreSQL ${server_version}`,
    ...method,
    `CPU time from /proc/<pid>/stat (utime + stime, ${ticksPerSecond} ticks/s)`,
    `service settings: ${service.values.length > 0 ? service.values.join(", ") : "defaults"}`,
    `the service's rate limits: ${service.rateLimits.length > 0 ? service.rateLimits.join(", ") : "none"}`
  ].join("; ") + "."
}

export const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

/** `a / b` as a ratio, with enough digits to tell 0.005× from 0.011×. */
export const ratio = (a: number, b: number) => {
  const r = a / b
  return `${fmt(r, r < 0.1 ? 3 : 2)}×`
}

export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) =>
  [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n")
