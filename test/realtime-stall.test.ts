import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as path from "node:path"
import { spawnService, type ChildService } from "./lib/Child.js"
import { clientPorts, established, rssBytes, serverEnd } from "./lib/Proc.js"
import { freshDatabase } from "./lib/Service.js"
import { connectWs, eventsOf, subscribe, wsUrl } from "./lib/Ws.js"

const bufferBytes = 64 * 1024
const stallMillis = 2_000
/** How much two rounds of the same traffic may differ in the server's peak memory (measured: ±10 MB). */
const noise = 16 * 1024 * 1024

let svc: ChildService
let sql: InstanceType<typeof Bun.SQL>
let serverPort: number
const children: Array<Bun.Subprocess> = []

beforeAll(async () => {
  const database = await freshDatabase()
  svc = spawnService(database.url, {
    BUGBOTS_WS_BUFFER_BYTES: String(bufferBytes),
    BUGBOTS_WS_STALL: `${stallMillis} millis`,
    // Far beyond the test: a stopped client is dropped for its backlog, not for missing pings.
    BUGBOTS_WS_IDLE_SECONDS: "120",
    // So that its RSS follows live memory, not garbage the collector has not reached yet or pages
    // the allocator keeps after a free.
    BUN_GARBAGE_COLLECTOR_LEVEL: "1",
    MIMALLOC_PURGE_DELAY: "0"
  })
  serverPort = Number(new URL(svc.baseUrl).port)
  sql = new Bun.SQL(database.url)
  await svc.ready()
}, 60_000)

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL")
  await sql.close()
  await svc.kill()
})

const makeRoom = async () => {
  const id = crypto.randomUUID()
  await sql`insert into villages (id, name) values (${id}, 'stalled-consumers')`
  return `village:${id}`
}

/** Appends straight to the log (as a change's transaction does) and nudges the relay; returns the ids. */
const append = async (room: string, count: number, bytes: number) => {
  const rows = await sql`
    insert into realtime_events (event, rooms, data)
    select 'work_stream_event', array[${room}]::text[], jsonb_build_object('n', n, 'blob', repeat('x', ${bytes}))
    from generate_series(1, ${count}) n returning id::text as id`
  const ids = rows.map((r: { id: string }) => r.id)
  await sql`select pg_notify('bugbots_events', ${ids[ids.length - 1]})`
  return ids
}

/** A child process of `test/lib`, and its output line by line (JSON). */
const spawnLib = (script: string, args: Array<string>) => {
  const child = Bun.spawn(["bun", path.resolve(import.meta.dir, "lib", script), ...args], { stdin: "ignore", stdout: "pipe", stderr: "inherit" })
  children.push(child)
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader()
  let pending = ""
  const next = async () => {
    while (!pending.includes("\n")) {
      const chunk = await reader.read()
      if (chunk.done) throw new Error(`${script} ended its output`)
      pending += chunk.value
    }
    const end = pending.indexOf("\n")
    const line = pending.slice(0, end)
    pending = pending.slice(end + 1)
    return JSON.parse(line)
  }
  return { child, next }
}

/** A `WsConsumer` process subscribed to `room`, with the port its connection comes from. */
const consumer = async (room: string) => {
  const { child, next } = spawnLib("WsConsumer.ts", [wsUrl(svc.baseUrl), svc.rootToken, room])
  expect(await next()).toEqual({ subscribed: room })
  const [port] = clientPorts(child.pid, serverPort)
  return { child, next, port }
}

/**
 * Watches the server's end of a connection: when its kernel send queue last moved while it was
 * established (a stopped client's backlog stops moving once its buffers are full: that is when it
 * stalls) and when the server let go of it (closed its end: no longer ESTABLISHED).
 */
const watchServerEnd = (clientPort: number, movedAt = Date.now()) => {
  const watched = { movedAt, droppedAt: undefined as number | undefined, queue: serverEnd(serverPort, clientPort)?.sendQueue }
  const look = () => {
    if (watched.droppedAt !== undefined) return
    const end = serverEnd(serverPort, clientPort)
    if (end?.state !== established) watched.droppedAt = Date.now()
    else if (end.sendQueue !== watched.queue) Object.assign(watched, { queue: end.sendQueue, movedAt: Date.now() })
  }
  return { watched, look }
}

/** Runs `action` every `millis` until the returned function is called. */
const everyFew = (millis: number, action: () => void) => {
  let running = true
  const loop = (async () => {
    while (running) {
      action()
      await Bun.sleep(millis)
    }
  })()
  return async () => {
    running = false
    await loop
  }
}

describe("/ws stalled consumers", () => {
  test("10 stopped consumers among 190 readers: dropped within the stall time, holding no memory; the readers get every event in order", async () => {
    const readerCount = 190
    const eventCount = 2_000
    const eventBytes = 4_000
    const room = await makeRoom()
    const batch = 50
    // A checkpoint after every batch: the readers say when all of them have it.
    const checkpoints = Array.from({ length: (2 * eventCount) / batch }, (_, i) => (i + 1) * batch)
    const readers = spawnLib("WsReaders.ts", [wsUrl(svc.baseUrl), svc.rootToken, room, String(readerCount), checkpoints.join(",")])
    expect(await readers.next()).toEqual({ ready: readerCount })
    const stalled = await Promise.all(Array.from({ length: 10 }, () => consumer(room)))

    /**
     * A round of events at the pace the readers keep up with (each batch once every reader has the
     * one before: how fast that is depends on the machine), as a busy room would see them. The
     * readers' last checkpoint is answered with their reports, read by the test.
     */
    let sent = 0
    const stream = async () => {
      const ids: Array<string> = []
      while (ids.length < eventCount) {
        ids.push(...(await append(room, batch, eventBytes)))
        sent += batch
        if (sent < 2 * eventCount) expect(await readers.next()).toEqual({ reached: sent })
      }
      return ids
    }

    // The baseline: the server's peak memory over a first round read by everyone.
    let baseline = rssBytes(svc.process.pid)
    const stopSampling = everyFew(20, () => {
      baseline = Math.max(baseline, rssBytes(svc.process.pid))
    })
    const ids = await stream()
    await stopSampling()
    while (stalled.some((s) => serverEnd(serverPort, s.port)?.sendQueue !== 0)) await Bun.sleep(20)

    // The same round again, with 10 consumers stopped.
    for (const s of stalled) s.child.kill("SIGSTOP")
    const ends = stalled.map((s) => watchServerEnd(s.port))
    let peak = 0
    const stopWatching = everyFew(20, () => {
      peak = Math.max(peak, rssBytes(svc.process.pid))
      for (const end of ends) end.look()
    })
    ids.push(...(await stream()))
    const appended = Date.now()

    const received: Array<{ events: number; digest: string; code?: number }> = []
    while (received.length < readerCount) received.push(await readers.next())
    const digest = String(Bun.hash(ids.join(",")))
    expect(received.filter((r) => r.events !== ids.length || r.digest !== digest || r.code !== undefined)).toEqual([])

    await Bun.sleep(Math.max(0, appended + stallMillis + 1_000 - Date.now()))
    await stopWatching()
    for (const { watched } of ends) {
      expect(watched.droppedAt).toBeDefined()
      expect(watched.droppedAt! - watched.movedAt).toBeLessThanOrEqual(stallMillis + 1_000)
    }
    expect(peak - baseline).toBeLessThan(stalled.length * bufferBytes + noise)

    for (const s of stalled) s.child.kill("SIGCONT")
    for (const s of stalled) {
      const closed = await s.next()
      expect([4008, 1006]).toContain(closed.code)
      expect(closed.ids).toEqual(ids.slice(0, closed.events))
    }
    readers.child.kill()
  }, 60_000)

  test("a stopped consumer whose backlog sits in the kernel but for a few kilobytes in Bun is dropped all the same", async () => {
    const eventBytes = 16 * 1024
    const room = await makeRoom()
    const reader = await connectWs(svc.baseUrl, svc.rootToken)
    await subscribe(reader, room)
    const stopped = await consumer(room)
    stopped.child.kill("SIGSTOP")

    const ids = await append(room, 128, eventBytes)
    await reader.collect((m) => m.type === "event", ids.length, 10_000)
    // One event at a time until one no longer enters the kernel's send queue: the kernel is full,
    // and Bun holds that event alone, far below BUGBOTS_WS_BUFFER_BYTES.
    let queue = serverEnd(serverPort, stopped.port)!.sendQueue
    let movedAt = Date.now()
    for (;;) {
      ids.push(...(await append(room, 1, eventBytes)))
      await reader.collect((m) => m.type === "event", ids.length, 10_000)
      const now = serverEnd(serverPort, stopped.port)!.sendQueue
      if (now === queue) break
      queue = now
      movedAt = Date.now()
      expect(ids.length).toBeLessThan(1_000)
    }
    const { watched, look } = watchServerEnd(stopped.port, movedAt)
    const stopWatching = everyFew(20, look)
    await Bun.sleep(stallMillis + 1_500)
    await stopWatching()
    expect(watched.droppedAt).toBeDefined()
    expect(watched.droppedAt! - watched.movedAt).toBeLessThanOrEqual(stallMillis + 1_000)

    stopped.child.kill("SIGCONT")
    const closed = await stopped.next()
    expect([4008, 1006]).toContain(closed.code)
    expect(closed.ids).toEqual(ids.slice(0, closed.events))
    expect(eventsOf(reader, room).map((e) => e.id)).toEqual(ids)
    reader.close()
  }, 30_000)
})
