import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as path from "node:path"
import { client } from "./lib/Client.js"
import { makeAgent, makeBug, makeUser, makeVillage } from "./lib/Fixtures.js"
import { listenOnce } from "./lib/Listen.js"
import { startService, type TestService } from "./lib/Service.js"
import { connectWs, eventsOf, rawWs, subscribe, wsUrl, type WsClient } from "./lib/Ws.js"

let svc: TestService
const open: Array<WsClient> = []
const ws = async (token: string, via?: "header" | "query") => {
  const c = await connectWs(svc.baseUrl, token, { via })
  open.push(c)
  return c
}

beforeAll(async () => {
  svc = await startService({ env: { BUGBOTS_WS_IDLE_SECONDS: "8", BUGBOTS_WS_BUFFER_BYTES: "65536", BUGBOTS_WS_STALL: "2 seconds" } })
})
afterAll(async () => {
  for (const c of open) c.close()
  await Promise.all(open.map((c) => c.closed))
  await svc.stop()
})

/** Appends straight to the log (as a change's transaction does) and nudges the relays. */
const appendRaw = async (room: string, count: number, bytes = 16) => {
  const rows = await svc.sql`
    insert into realtime_events (event, rooms, data)
    select 'work_stream_event', array[${room}]::text[], jsonb_build_object('n', n, 'blob', repeat('x', ${bytes}))
    from generate_series(1, ${count}) n returning id`
  await svc.sql`select pg_notify('bugbots_events', ${String(rows[rows.length - 1].id)})`
  return rows.map((r: { id: string }) => String(r.id))
}

const roomIds = async (room: string, after = "0") =>
  (await svc.sql`select id::text as id from realtime_events where rooms @> array[${room}]::text[] and id > ${after} order by realtime_events.id`).map(
    (r: { id: string }) => r.id
  )

describe("/ws events", () => {
  test("village and repo rooms receive spawn, update and resolved, in version order", async () => {
    const v = await makeVillage(svc)
    const c = await ws(svc.rootToken)
    expect(await subscribe(c, `village:${v.id}`)).toEqual({ type: "subscribed", room: `village:${v.id}` })
    expect(await subscribe(c, `repo:${v.repoId}`)).toEqual({ type: "subscribed", room: `repo:${v.repoId}` })
    const bug = await makeBug(v.root, v.id, v.repoId)
    const triaged = await v.root.put(`/api/bugs/${bug.id}/status`, { status: "triaged" }, { "x-request-id": "req-triage-1" })
    expect(triaged.status).toBe(200)
    expect((await v.root.put(`/api/bugs/${bug.id}/status`, { status: "resolved" })).status).toBe(200)
    for (const room of [`village:${v.id}`, `repo:${v.repoId}`]) {
      const events = await c.collect((m) => m.type === "event" && m.room === room, 3)
      expect(events.map((e) => e.event)).toEqual(["bug_bot_spawn", "bug_bot_update", "bug_bot_resolved"])
      expect(events.map((e) => e.data.version)).toEqual([1, 2, 3])
      expect(events.every((e) => e.data.id === bug.id && !("description" in e.data))).toBe(true)
      expect(Object.keys(events[0]).sort()).toEqual(["correlation_id", "data", "event", "id", "room", "type"])
      expect(events[1].correlation_id).toBe("req-triage-1")
      expect(typeof events[0].id).toBe("string")
      expect(Number(events[0].id) < Number(events[1].id) && Number(events[1].id) < Number(events[2].id)).toBe(true)
    }
  })

  test("agent state changes reach the agent's room and its village's", async () => {
    const v = await makeVillage(svc)
    const agent = await makeAgent(svc, v.id)
    const c = await ws(agent.token, "query")
    await subscribe(c, `agent:${agent.id}`)
    await subscribe(c, `village:${v.id}`)
    expect((await v.root.put(`/api/agents/${agent.id}/state`, { state: "paused" })).status).toBe(200)
    const [own] = await c.collect((m) => m.type === "event" && m.room === `agent:${agent.id}`, 1)
    const [village] = await c.collect((m) => m.type === "event" && m.room === `village:${v.id}`, 1)
    expect(own.event).toBe("agent_update")
    expect(own.data.state).toBe("paused")
    expect(village.id).toBe(own.id)
  })

  test("unsubscribe stops a room; the others go on", async () => {
    const v = await makeVillage(svc)
    const c = await ws(svc.rootToken)
    await subscribe(c, `village:${v.id}`)
    await subscribe(c, `repo:${v.repoId}`)
    c.send({ type: "unsubscribe", room: `repo:${v.repoId}` })
    expect(await c.next((m) => m.type === "unsubscribed")).toEqual({ type: "unsubscribed", room: `repo:${v.repoId}` })
    await makeBug(v.root, v.id, v.repoId)
    await c.next((m) => m.type === "event" && m.room === `village:${v.id}`)
    await Bun.sleep(100)
    expect(eventsOf(c, `repo:${v.repoId}`)).toEqual([])
  })
})

describe("/ws protocol", () => {
  test("ping is answered with pong", async () => {
    const c = await ws(svc.rootToken)
    c.send({ type: "ping" })
    expect(await c.next((m) => m.type === "pong")).toEqual({ type: "pong" })
  })

  test("bad JSON and unknown messages are errors; the connection stays open", async () => {
    const c = await ws(svc.rootToken)
    c.sendRaw("{not json")
    const bad = await c.next((m) => m.type === "error")
    expect(bad.code).toBe("BAD_REQUEST")
    c.send({ type: "dance" })
    const [, unknown] = await c.collect((m) => m.type === "error", 2)
    expect(unknown.code).toBe("VALIDATION_FAILED")
    c.send({ type: "subscribe", room: "lobby" })
    const room = await c.next((m) => m.type === "error" && m.room === "lobby")
    expect(room.code).toBe("VALIDATION_FAILED")
    c.send({ type: "subscribe", room: "village:00000000-0000-4000-8000-000000000000", since: "soon" })
    expect((await c.next((m) => m.type === "error" && m.room?.startsWith("village:"))).code).toBe("VALIDATION_FAILED")
    c.send({ type: "ping" })
    await c.next((m) => m.type === "pong")
  })

  test("an unauthenticated upgrade is 401 with the error envelope", async () => {
    for (const headers of [{}, { authorization: "Bearer nope" }] as Array<Record<string, string>>) {
      const response = await fetch(`${svc.baseUrl}/ws`, { headers: { ...headers, upgrade: "websocket", connection: "Upgrade" } })
      expect(response.status).toBe(401)
      const body = await response.json()
      expect(body.error.code).toBe("UNAUTHENTICATED")
      expect(body.error.request_id).toBe(response.headers.get("x-request-id"))
    }
    expect((await fetch(`${svc.baseUrl}/ws?token=nope`)).status).toBe(401)
    await expect(connectWs(svc.baseUrl, "nope")).rejects.toThrow()
    await expect(connectWs(svc.baseUrl, "nope", { via: "query" })).rejects.toThrow()
  })

  test("an authenticated GET without an upgrade is 426", async () => {
    const response = await client(svc.baseUrl, svc.rootToken).get("/ws")
    expect(response.status).toBe(426)
    expect(response.body.error.code).toBe("UPGRADE_REQUIRED")
  })
})

describe("/ws authorization", () => {
  test("rooms of villages the principal cannot see are NOT_FOUND; the connection stays open", async () => {
    const mine = await makeVillage(svc)
    const other = await makeVillage(svc)
    const user = await makeUser(svc, { village: mine.id, role: "operator" })
    const agent = await makeAgent(svc, other.id)
    const c = await ws(user.token)
    for (const room of [`village:${other.id}`, `repo:${other.repoId}`, `agent:${agent.id}`]) {
      const answer = await subscribe(c, room)
      expect(answer).toMatchObject({ type: "error", code: "NOT_FOUND", room })
    }
    expect(await subscribe(c, `village:${mine.id}`)).toEqual({ type: "subscribed", room: `village:${mine.id}` })
    const missing = await subscribe(await ws(svc.rootToken), "village:00000000-0000-4000-8000-000000000000")
    expect(missing.code).toBe("NOT_FOUND")
    await makeBug(other.root, other.id, other.repoId)
    await makeBug(mine.root, mine.id, mine.repoId)
    await c.next((m) => m.type === "event")
    expect(c.messages.filter((m) => m.type === "event").every((m) => m.room === `village:${mine.id}`)).toBe(true)
    c.send({ type: "ping" })
    await c.next((m) => m.type === "pong")
  })

  test("an agent sees its own village's rooms only", async () => {
    const home = await makeVillage(svc)
    const away = await makeVillage(svc)
    const agent = await makeAgent(svc, home.id)
    const c = await ws(agent.token)
    expect((await subscribe(c, `repo:${home.repoId}`)).type).toBe("subscribed")
    expect(await subscribe(c, `village:${away.id}`)).toMatchObject({ type: "error", code: "NOT_FOUND" })
  })
})

describe("/ws replay", () => {
  test("since replays what the room missed, then goes on live: no gap, no duplicate, while changes keep coming", async () => {
    const v = await makeVillage(svc)
    const room = `village:${v.id}`
    const first = await ws(svc.rootToken)
    await subscribe(first, room)
    // The writer pauses while the first socket closes, then paces itself, so changes are made both
    // while nobody is subscribed and while the second socket subscribes, however fast the service is.
    let written = 0
    const closed = Promise.withResolvers<void>()
    const writer = (async () => {
      const bugs: Array<string> = []
      for (let i = 0; i < 40; i++) {
        if (i === 10) await closed.promise
        if (i > 10) await Bun.sleep(10)
        if (i % 4 === 0) bugs.push((await makeBug(v.root, v.id, v.repoId)).id)
        const bug = bugs[bugs.length - 1]
        await v.root.put(`/api/bugs/${bug}/status`, { status: i % 2 === 0 ? "triaged" : "open" })
        written = i + 1
      }
    })()
    const before = await first.collect((m) => m.type === "event", 8)
    first.close()
    await first.closed
    const last = before[before.length - 1].id
    closed.resolve()
    while (written < 14) await Bun.sleep(5)
    const second = await ws(svc.rootToken, "query")
    await subscribe(second, room, last)
    expect(written).toBeLessThan(40)
    await writer
    const expected = await roomIds(room, String(Number(before[0].id) - 1))
    const after = await second.collect((m) => m.type === "event", expected.length - before.length, 10_000)
    const received = [...before, ...after].map((e) => e.id)
    expect(received).toEqual(expected)
    expect(new Set(received).size).toBe(received.length)
    await Bun.sleep(200)
    expect(second.messages.filter((m) => m.type === "event").length).toBe(after.length)
    const versions = new Map<string, number>()
    for (const e of [...before, ...after]) {
      expect(e.data.version).toBe((versions.get(e.data.id) ?? 0) + 1)
      versions.set(e.data.id, e.data.version)
    }
  }, 30_000)

  test("subscribing again to a room restarts it from the new since, without duplicates", async () => {
    const v = await makeVillage(svc)
    const room = `repo:${v.repoId}`
    const c = await ws(svc.rootToken)
    await subscribe(c, room)
    await makeBug(v.root, v.id, v.repoId)
    const [first] = await c.collect((m) => m.type === "event", 1)
    await subscribe(c, room, "0")
    await makeBug(v.root, v.id, v.repoId)
    const all = await roomIds(room)
    const events = await c.collect((m) => m.type === "event", 1 + all.length)
    expect(events.map((e) => e.id)).toEqual([first.id, ...all])
    await Bun.sleep(200)
    expect(eventsOf(c, room).length).toBe(1 + all.length)
  })

  test("since 0 replays the room's whole history, in order", async () => {
    const v = await makeVillage(svc)
    const bug = await makeBug(v.root, v.id, v.repoId)
    await v.root.put(`/api/bugs/${bug.id}/status`, { status: "closed" })
    const c = await ws(svc.rootToken)
    await subscribe(c, `repo:${v.repoId}`, "0")
    const events = await c.collect((m) => m.type === "event", 2)
    expect(events.map((e) => e.event)).toEqual(["bug_bot_spawn", "bug_bot_resolved"])
    expect(events.map((e) => e.id)).toEqual(await roomIds(`repo:${v.repoId}`))
  })
})

describe("the relay", () => {
  test("an event is held back while a lower id is in flight, and a rolled-back id is skipped", async () => {
    const room = `village:${crypto.randomUUID()}`
    const c = await ws(svc.rootToken)
    await svc.sql`insert into villages (id, name) values (${room.slice(8)}, 'relay-test')`
    await subscribe(c, room)
    const inFlight = async (commit: boolean) => {
      const tx = await svc.sql.reserve()
      await tx`begin`
      const [row] = await tx`insert into realtime_events (event, rooms, data) values ('work_stream_event', array[${room}]::text[], '{"held":true}') returning id::text as id`
      return { id: row.id as string, end: async () => (await tx.unsafe(commit ? "commit" : "rollback"), tx.release()) }
    }
    const held = await inFlight(true)
    const [next] = await appendRaw(room, 1)
    await Bun.sleep(700)
    expect(eventsOf(c, room)).toEqual([])
    await held.end()
    const events = await c.collect((m) => m.type === "event" && m.room === room, 2)
    expect(events.map((e) => e.id)).toEqual([held.id, next])
    const doomed = await inFlight(false)
    const [after] = await appendRaw(room, 1)
    await Bun.sleep(300)
    expect(eventsOf(c, room).length).toBe(2)
    await doomed.end()
    const [, , third] = await c.collect((m) => m.type === "event" && m.room === room, 3, 3000)
    expect(third.id).toBe(after)
  })
})

describe("/ws connection health", () => {
  test("a slow consumer is closed with 4008 while the others get every event", async () => {
    const room = `village:${crypto.randomUUID()}`
    await svc.sql`insert into villages (id, name) values (${room.slice(8)}, 'slow-consumer')`
    const fast = await ws(svc.rootToken)
    await subscribe(fast, room)
    const consumer = Bun.spawn(["bun", path.resolve(import.meta.dir, "lib/WsConsumer.ts"), wsUrl(svc.baseUrl), svc.rootToken, room], {
      stdout: "pipe"
    })
    const lines = consumer.stdout.pipeThrough(new TextDecoderStream()).getReader()
    let output = ""
    while (!output.includes("subscribed")) output += (await lines.read()).value ?? ""
    consumer.kill("SIGSTOP")
    const ids = await appendRaw(room, 150, 64 * 1024)
    const appended = Date.now()
    const fastReceived = fast.collect((m) => m.type === "event" && m.room === room, ids.length, 20_000)
    // The stopped consumer stalls as soon as its kernel buffers are full. It is dropped once Bun
    // holds 4 × BUGBOTS_WS_BUFFER_BYTES for it, or 2 s later (BUGBOTS_WS_STALL) if Bun holds less,
    // long before the 8 s idle timeout; without a close frame, which would wait behind the backlog,
    // so the client reads 1006. (4008 is for a socket that is slow but still takes messages.)
    await Bun.sleep(appended + 3_500 - Date.now())
    consumer.kill("SIGCONT")
    expect((await fastReceived).map((e) => e.id)).toEqual(ids)
    for (let chunk = await lines.read(); !chunk.done; chunk = await lines.read()) output += chunk.value
    const closed = JSON.parse(output.trim().split("\n").pop() ?? "{}")
    expect([4008, 1006]).toContain(closed.code)
    if (closed.code === 4008) expect(closed.reason).toContain("slow consumer")
    expect(closed.ids).toEqual(ids.slice(0, closed.events))
  }, 40_000)

  test("a peer that stops answering pings is dropped; a live idle client stays", async () => {
    const live = await ws(svc.rootToken)
    const dead = await rawWs(svc.baseUrl, svc.rootToken)
    const started = Date.now()
    await dead.closed
    const waited = Date.now() - started
    expect(waited).toBeGreaterThan(3_000)
    expect(waited).toBeLessThan(14_000)
    expect(dead.frames.some((f) => f.opcode === 0x9)).toBe(true)
    live.send({ type: "ping" })
    expect(await live.next((m) => m.type === "pong")).toEqual({ type: "pong" })
    expect(live.socket.readyState).toBe(WebSocket.OPEN)
  }, 20_000)
})

describe("the log's NOTIFY", () => {
  test("a change announces its event id on the events channel, after commit", async () => {
    const village = await makeVillage(svc)
    const { next } = await listenOnce(svc.databaseUrl, "bugbots_events")
    const bug = await makeBug(village.root, village.id, village.repoId)
    const [row] = await svc.sql`select bug_id from realtime_events where id = ${Number(await next)}`
    expect(row.bug_id).toBe(bug.id)
  })
})
