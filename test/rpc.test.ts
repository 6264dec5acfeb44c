import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Chunk, Effect, Fiber, Stream } from "effect"
import * as path from "node:path"
import { BugbotsClient, type ClientOptions, makeClient } from "../src/Rpc/Client.js"
import { client as rest } from "./lib/Client.js"
import { makeAgent, makeBug, makeUser, makeVillage } from "./lib/Fixtures.js"
import { startService, type TestService } from "./lib/Service.js"

let svc: TestService
beforeAll(async () => {
  svc = await startService()
})
afterAll(() => svc.stop())

const transports = ["http", "websocket"] as const

/** Runs `f` with a client of the service as `token`, and returns its exit. */
const withClient = <A, E>(
  token: string,
  f: (client: BugbotsClient) => Effect.Effect<A, E>,
  transport: ClientOptions["transport"] = "http"
) =>
  Effect.runPromiseExit(
    Effect.flatMap(BugbotsClient, f).pipe(Effect.provide(makeClient({ url: svc.baseUrl, token, transport })))
  )

const failureTag = (exit: { _tag: string; cause?: unknown }) =>
  exit._tag === "Failure" ? JSON.stringify(exit.cause).match(/"_tag":"(\w+)"/g)?.map((t) => t.slice(8, -1)) : []

describe("RPC", () => {
  for (const transport of transports) {
    test(`the agent loop over ${transport}: claim, heartbeat, note, resolve`, async () => {
      const v = await makeVillage(svc)
      const bug = await makeBug(v.root, v.id, v.repoId, { severity: "high" })
      const agent = await makeAgent(svc, v.id)
      const exit = await withClient(
        agent.token,
        (c) =>
          Effect.gen(function* () {
            const claimed = yield* c.Claim({ lease_seconds: 60 })
            if (claimed === null) return yield* Effect.dieMessage("nothing claimed")
            const renewed = yield* c.Heartbeat({ id: claimed.bug.id, lease_token: claimed.lease.token, lease_seconds: 120 })
            const note = yield* c.AddNote({ id: claimed.bug.id, body: "on it" })
            const resolved = yield* c.ChangeStatus({ id: claimed.bug.id, status: "resolved" })
            const lost = yield* Effect.flip(c.Heartbeat({ id: claimed.bug.id, lease_token: claimed.lease.token }))
            const again = yield* c.Claim({})
            return { claimed, renewed, note, resolved, lost, again }
          }),
        transport
      )
      if (exit._tag === "Failure") throw new Error(JSON.stringify(exit.cause))
      const { claimed, renewed, note, resolved, lost, again } = exit.value
      expect(claimed.bug.id).toBe(bug.id)
      expect(claimed.bug.status).toBe("in_progress")
      expect(renewed.expires_at.epochMillis).toBeGreaterThan(claimed.lease.expires_at.epochMillis)
      expect(note.kind).toBe("note")
      expect(resolved.status).toBe("resolved")
      expect(lost._tag).toBe("LeaseLost")
      expect(again).toBeNull()
      const events = await v.root.get(`/api/bugs/${bug.id}/events`)
      expect(events.body.items.map((e: any) => e.kind)).toEqual(["created", "claimed", "note", "status_changed"])
    })
  }

  test("the same errors and permissions as REST", async () => {
    const v = await makeVillage(svc)
    const bug = await makeBug(v.root, v.id, v.repoId)
    const agent = await makeAgent(svc, v.id)
    const outsider = await makeUser(svc)
    const triager = await makeUser(svc, { village: v.id, role: "triager" })

    expect(failureTag(await withClient("not-a-token", (c) => c.GetBug({ id: bug.id })))).toContain("Unauthenticated")
    expect(failureTag(await withClient(outsider.token, (c) => c.GetBug({ id: bug.id })))).toContain("NotFound")
    expect(failureTag(await withClient(triager.token, (c) => c.Claim({})))).toContain("Forbidden")
    expect(failureTag(await withClient(agent.token, (c) => c.GetBug({ id: crypto.randomUUID() as never })))).toContain("NotFound")
    expect(failureTag(await withClient(agent.token, (c) => c.ChangeStatus({ id: bug.id, status: "resolved" })))).toContain("Forbidden")
    expect(failureTag(await withClient(triager.token, (c) => c.ChangeStatus({ id: bug.id, status: "in_progress" })))).toContain(
      "AgentRequired"
    )
    expect((await v.root.put(`/api/agents/${agent.id}/state`, { state: "paused" })).status).toBe(200)
    expect(failureTag(await withClient(agent.token, (c) => c.Claim({}), "websocket"))).toContain("AgentPaused")

    const listed = await withClient(triager.token, (c) => c.ListBugs({ village_id: v.id as never, status: ["open"], limit: 10 }))
    if (listed._tag === "Failure") throw new Error(JSON.stringify(listed.cause))
    expect(listed.value.items.map((b) => b.id)).toEqual([bug.id])
    const assigned = await withClient(triager.token, (c) => c.AssignBug({ id: bug.id, agent_id: agent.id as never }))
    expect(assigned._tag).toBe("Success")
  })

  test("a work stream over RPC lands in the session and in room agent:<id>", async () => {
    const v = await makeVillage(svc)
    const agent = await makeAgent(svc, v.id)
    const exit = await withClient(
      agent.token,
      (c) =>
        Effect.gen(function* () {
          const session = yield* c.StartSession()
          const watcher = yield* c.WatchRoom({ room: `agent:${agent.id}` }).pipe(Stream.take(2), Stream.runCollect, Effect.fork)
          yield* Effect.sleep("300 millis")
          yield* c.LogWork({ session_id: session.id, type: "log", message: "one" })
          yield* c.LogWork({ session_id: session.id, type: "log", message: "two" })
          const seen = yield* Fiber.join(watcher).pipe(Effect.timeout("5 seconds"))
          const ended = yield* c.EndSession({ session_id: session.id })
          const late = yield* Effect.flip(c.LogWork({ session_id: session.id, type: "log" }))
          return { session, seen: Chunk.toReadonlyArray(seen), ended, late }
        }),
      "websocket"
    )
    if (exit._tag === "Failure") throw new Error(JSON.stringify(exit.cause))
    // Typed events: the work-stream entry's fields are known without a cast.
    expect(exit.value.seen.map((e) => [e.event, e.event === "work_stream_event" ? e.data.message : null])).toEqual([
      ["work_stream_event", "one"],
      ["work_stream_event", "two"]
    ])
    expect(exit.value.ended.ended_at).not.toBeNull()
    expect(exit.value.late._tag).toBe("SessionEnded")
    const stored = await rest(svc.baseUrl, agent.token).get(`/api/agent-sessions/${exit.value.session.id}/events`)
    expect(stored.body.items.map((e: any) => e.message)).toEqual(["one", "two"])
  })

  for (const transport of transports) {
    test(`WatchRoom over ${transport} resumes after since: replay, then live, no gap, no duplicate`, async () => {
      const v = await makeVillage(svc)
      const first = await makeBug(v.root, v.id, v.repoId)
      const [{ id: since }] = await svc.sql`select id::text from realtime_events where bug_id = ${first.id} order by id limit 1`
      const missed = [await makeBug(v.root, v.id, v.repoId), await makeBug(v.root, v.id, v.repoId)]
      const room = `village:${v.id}`
      const exit = await withClient(
        svc.rootToken,
        (c) =>
          Effect.gen(function* () {
            const watcher = yield* c.WatchRoom({ room, since }).pipe(Stream.take(3), Stream.runCollect, Effect.fork)
            yield* Effect.sleep("300 millis")
            const live = yield* Effect.promise(() => makeBug(v.root, v.id, v.repoId))
            const seen = yield* Fiber.join(watcher).pipe(Effect.timeout("5 seconds"))
            return { live, seen: Chunk.toReadonlyArray(seen) }
          }),
        transport
      )
      if (exit._tag === "Failure") throw new Error(JSON.stringify(exit.cause))
      const { live, seen } = exit.value
      expect(seen.map((e) => (e.event === "bug_bot_spawn" ? e.data.id : null))).toEqual([missed[0].id, missed[1].id, live.id])
      expect(seen.every((e) => e.event === "bug_bot_spawn" && Number(e.id) > Number(since))).toBe(true)
      expect(seen.map((e) => Number(e.id))).toEqual([...seen.map((e) => Number(e.id))].sort((a, b) => a - b))
    })
  }

  test("WatchRoom refuses rooms the caller cannot see and bad cursors", async () => {
    const v = await makeVillage(svc)
    const outsider = await makeUser(svc)
    const watch = (token: string, room: string, since?: string) =>
      withClient(token, (c) => c.WatchRoom({ room, ...(since === undefined ? {} : { since }) }).pipe(Stream.take(1), Stream.runDrain))
    expect(failureTag(await watch(outsider.token, `village:${v.id}`))).toContain("NotFound")
    expect(failureTag(await watch(svc.rootToken, "lobby"))).toContain("ValidationFailed")
    expect(failureTag(await watch(svc.rootToken, `village:${v.id}`, "yesterday"))).toContain("ValidationFailed")
  })

  for (const transport of transports) {
    test(`examples/agent.ts in its own process (${transport}) claims, logs, heartbeats and resolves`, async () => {
      const v = await makeVillage(svc)
      const bug = await makeBug(v.root, v.id, v.repoId, { severity: "critical" })
      const agent = await makeAgent(svc, v.id)
      const child = Bun.spawn(["bun", "run", path.resolve(import.meta.dir, "../examples/agent.ts")], {
        env: { ...process.env, BUGBOTS_URL: svc.baseUrl, BUGBOTS_TOKEN: agent.token, BUGBOTS_TRANSPORT: transport },
        stdout: "pipe",
        stderr: "pipe"
      })
      const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
      if (code !== 0) throw new Error(`agent exited ${code}: ${err}`)
      const summary = JSON.parse(out.trim().split("\n").at(-1)!)
      expect(summary).toMatchObject({ claimed: true, bug_id: bug.id, status: "resolved" })

      const after = await v.root.get(`/api/bugs/${bug.id}`)
      expect(after.body).toMatchObject({ status: "resolved", assigned_agent_id: agent.id })
      const kinds = (await v.root.get(`/api/bugs/${bug.id}/events`)).body.items.map((e: any) => e.kind)
      expect(kinds).toEqual(["created", "claimed", "note", "status_changed"])
      const log = await v.root.get(`/api/agent-sessions/${summary.session_id}/events`)
      expect(log.body.items.map((e: any) => e.type)).toEqual(["claimed", "step", "step", "resolved"])
      expect(log.body.items[2].message).toMatch(/^lease renewed until /)
      const session = await svc.sql`select ended_at from agent_sessions where id = ${summary.session_id}`
      expect(session[0].ended_at).not.toBeNull()
    }, 30_000)
  }
})
