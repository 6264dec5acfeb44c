/**
 * Issue 3: `/ws` fan-out with 1,000 and 5,000 subscribers in one room — publish-to-last-delivery
 * latency, events/s sustained, server memory per connection — beside raw Bun WebSockets
 * (`server.publish`, no database) in the same run. Subscribers live in their own process.
 *
 * For bugbots an event is published either by a real change (`PUT /bugs/{id}/status`: HTTP,
 * transaction, log, NOTIFY, relay, hub, room) or by appending to the log directly (what a change's
 * transaction does: the relay-and-fan-out path alone); the clock starts before the request or the
 * insert. For the baseline the clock starts before `POST /publish`, which calls `server.publish`
 * with a frame of the same size.
 */
import * as path from "node:path"
import { rssBytes } from "../test/lib/Proc.js"
import { cpuMs, fmt, freshDatabase, quantile, ranWith, ratio, root, spawnScript, spawnService, table } from "./lib.js"

const sizes = (process.env.BENCH_SUBSCRIBERS ?? "1000,5000").split(",").map(Number)
const samples = Number(process.env.BENCH_LATENCY_SAMPLES ?? 30)
const burst = Number(process.env.BENCH_EVENTS ?? 400)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16)
const token = "bench-root-token"
const now = () => performance.timeOrigin + performance.now()

const databaseUrl = await freshDatabase()
const service = await spawnService({ DATABASE_URL: databaseUrl, BUGBOTS_BOOTSTRAP_TOKEN: token, BUGBOTS_RATE_LIMIT: "0" })
const raw = await spawnScript("bench/baselines/raw-ws.ts")
const rawUrl = raw.url

const json = { authorization: `Bearer ${token}`, "content-type": "application/json" }
const post = async (url: string, body: unknown) => (await fetch(url, { method: "POST", headers: json, body: JSON.stringify(body) })).json()
const village = await post(`${service.url}/api/villages`, { name: "bench" })
const repo = await post(`${service.url}/api/villages/${village.id}/repos`, { full_name: "bench/realtime" })
const bugs: Array<{ id: string; triaged: boolean }> = []
for (let i = 0; i < 256; i++) bugs.push({ id: (await post(`${service.url}/api/villages/${village.id}/bugs`, { repo_id: repo.id, title: `bug ${i}` })).id, triaged: false })
const room = `village:${village.id}`
const sample = await (await fetch(`${service.url}/api/bugs/${bugs[0].id}`, { headers: json })).json()
delete sample.description

interface Target {
  readonly name: string
  readonly pid: number
  readonly wsUrl: string
  /** Makes one event; resolves with its key (`data.id:data.version`). */
  readonly publish: (i: number) => Promise<string>
}

const bugbots: Target = {
  name: "bugbots /ws, PUT /bugs/{id}/status",
  pid: service.pid,
  wsUrl: `${service.url.replace("http", "ws")}/ws?token=${token}`,
  publish: async (i) => {
    const bug = bugs[i % bugs.length]
    bug.triaged = !bug.triaged
    const response = await fetch(`${service.url}/api/bugs/${bug.id}/status`, {
      method: "PUT",
      headers: json,
      body: JSON.stringify({ status: bug.triaged ? "triaged" : "open" })
    })
    const changed = await response.json()
    return `${changed.id}:${changed.version}`
  }
}

const log = new Bun.SQL(databaseUrl)
const bugbotsLog: Target = {
  name: "bugbots /ws, appended to the log",
  pid: service.pid,
  wsUrl: bugbots.wsUrl,
  publish: async (i) => {
    await log`
      with appended as (
        insert into realtime_events (event, rooms, data)
        values ('bug_bot_update', array[${room}]::text[], ${{ ...sample, id: "log", version: i }})
        returning id)
      select pg_notify('bugbots_events', id::text) from appended`
    return `log:${i}`
  }
}

const baseline: Target = {
  name: "raw Bun server.publish",
  pid: raw.pid,
  wsUrl: `${rawUrl.replace("http", "ws")}/ws`,
  publish: async (i) => {
    const frame = JSON.stringify({ type: "event", event: "bug_bot_update", room, id: String(i), correlation_id: crypto.randomUUID(), data: { ...sample, id: "raw", version: i } })
    await fetch(`${rawUrl}/publish`, { method: "POST", body: frame })
    return `raw:${i}`
  }
}

/** The subscriber process and the completions (every socket got the event) it reports. */
const subscribers = async (target: Target, count: number) => {
  const child = Bun.spawn(["bun", path.join(root, "bench/realtime/clients.ts"), target.wsUrl, room, String(count)], {
    cwd: root,
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit"
  })
  const done = new Map<string, { first: number; last: number }>()
  const waiters = new Map<string, () => void>()
  let ready: () => void = () => {}
  const isReady = new Promise<void>((r) => (ready = r))
  void (async () => {
    let pending = ""
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader()
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      pending += read.value
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) {
        const message = JSON.parse(line)
        if (message.ready !== undefined) ready()
        if (message.key !== undefined) {
          done.set(message.key, message)
          waiters.get(message.key)?.()
        }
      }
    }
  })()
  await isReady
  const completion = (key: string) =>
    new Promise<{ first: number; last: number }>((resolve) => {
      const found = done.get(key)
      if (found) return resolve(found)
      waiters.set(key, () => resolve(done.get(key)!))
    })
  const close = async () => {
    child.stdin.write("close\n")
    child.stdin.end()
    await child.exited
  }
  return { completion, close }
}

/**
 * Server RSS per connection, in a fresh server process: a first, smaller crowd warms its code paths
 * up (and is let go), then `count` subscribers connect. Without a forced GC, so garbage of the
 * handshakes counts too.
 */
interface FreshServer {
  readonly pid: number
  readonly wsUrl: string
  readonly stop: () => Promise<void>
}

const memoryPerConnection = async (start: () => Promise<FreshServer>, count: number) => {
  const server = await start()
  const target: Target = { name: "memory", pid: server.pid, wsUrl: server.wsUrl, publish: () => Promise.resolve("") }
  await (await subscribers(target, Math.min(count, 500))).close()
  const before = rssBytes(server.pid) / 1024
  const subs = await subscribers(target, count)
  await Bun.sleep(500)
  const after = rssBytes(server.pid) / 1024
  await subs.close()
  await server.stop()
  return (after - before) / count
}

const measure = async (target: Target, count: number) => {
  const subs = await subscribers(target, count)
  for (let i = 0; i < 5; i++) await subs.completion(await target.publish(i))
  const latencies: Array<number> = []
  for (let i = 0; i < samples; i++) {
    const started = now()
    const { last } = await subs.completion(await target.publish(1000 + i))
    latencies.push(last - started)
  }
  latencies.sort((a, b) => a - b)
  const cpu = cpuMs(target.pid)
  const started = now()
  let next = 0
  const keys: Array<Promise<{ first: number; last: number }>> = []
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < burst) {
        const i = next++
        keys.push(subs.completion(await target.publish(10_000 + i)))
      }
    })
  )
  const lastDelivery = Math.max(...(await Promise.all(keys)).map((c) => c.last))
  const cpuPerEvent = (cpuMs(target.pid) - cpu) / burst
  await subs.close()
  return {
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    eventsPerSecond: burst / ((lastDelivery - started) / 1000),
    cpuPerEvent
  }
}

const rows: Array<Array<string>> = []
const started = Date.now()
// BENCH_REALTIME=memory: only the memory per connection (fresh processes, alternating), a quick check.
if (process.env.BENCH_REALTIME === "memory") {
  for (const count of sizes) {
    for (let round = 0; round < 2; round++) {
      const rawMemory = await memoryPerConnection(async () => {
        const fresh = await spawnScript("bench/baselines/raw-ws.ts")
        return { pid: fresh.pid, wsUrl: `${fresh.url.replace("http", "ws")}/ws`, stop: fresh.stop }
      }, count)
      const ourMemory = await memoryPerConnection(async () => {
        const fresh = await spawnService({ DATABASE_URL: databaseUrl, BUGBOTS_BOOTSTRAP_TOKEN: token })
        return { pid: fresh.pid, wsUrl: `${fresh.url.replace("http", "ws")}/ws?token=${token}`, stop: fresh.stop }
      }, count)
      console.log(`${fmt(count)} subscribers, round ${round + 1}: raw ${fmt(rawMemory, 1)} KB/connection, bugbots ${fmt(ourMemory, 1)} KB/connection, ${ratio(ourMemory, rawMemory)}`)
    }
  }
  await log.close()
  await raw.stop()
  await service.stop()
  process.exit(0)
}
for (const count of sizes) {
  const rawMemory = await memoryPerConnection(async () => {
    const fresh = await spawnScript("bench/baselines/raw-ws.ts")
    return { pid: fresh.pid, wsUrl: `${fresh.url.replace("http", "ws")}/ws`, stop: fresh.stop }
  }, count)
  const ourMemory = await memoryPerConnection(async () => {
    const fresh = await spawnService({ DATABASE_URL: databaseUrl, BUGBOTS_BOOTSTRAP_TOKEN: token, BUGBOTS_RATE_LIMIT: "0" })
    return { pid: fresh.pid, wsUrl: `${fresh.url.replace("http", "ws")}/ws?token=${token}`, stop: fresh.stop }
  }, count)
  const base = await measure(baseline, count)
  rows.push([
    baseline.name, fmt(count), fmt(base.p50, 1), fmt(base.p99, 1), fmt(base.eventsPerSecond), fmt(base.cpuPerEvent, 2), fmt(rawMemory, 1),
    "1.00×", "1.00×", "1.00×"
  ])
  for (const target of [bugbots, bugbotsLog]) {
    const ours = await measure(target, count)
    rows.push([
      target.name, fmt(count), fmt(ours.p50, 1), fmt(ours.p99, 1), fmt(ours.eventsPerSecond), fmt(ours.cpuPerEvent, 2), fmt(ourMemory, 1),
      ratio(ours.p50, base.p50), ratio(ours.eventsPerSecond, base.eventsPerSecond), ratio(ourMemory, rawMemory)
    ])
  }
}
await log.close()
await raw.stop()
await service.stop()

console.log(
  `\nOne room, subscribers in a separate process, ${samples} latency samples, bursts of ${burst} events ` +
    `(${concurrency} publishers); ${((Date.now() - started) / 1000).toFixed(0)} s\n`
)
console.log(
  table(
    [
      "server, event made by", "subscribers", "p50 publish→last delivery ms", "p99 ms", "events/s delivered to all", "server CPU ms/event",
      "server RSS KB/connection", "p50 vs raw", "events/s vs raw", "memory vs raw"
    ],
    rows
  )
)
console.log(`\n${await ranWith(service.settings, ["server CPU over a burst, from its first publish to its last delivery"])}`)
