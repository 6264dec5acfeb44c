/**
 * A small agent on `bugbots/client`: claims the most urgent bug, opens a session and streams its
 * work log, heartbeats while it works, notes what it found, and resolves the bug.
 *
 *   BUGBOTS_URL=http://127.0.0.1:3000 BUGBOTS_TOKEN=<agent token> bun run examples/agent.ts
 *
 * Optional: BUGBOTS_TRANSPORT=websocket, BUGBOTS_LEASE_SECONDS (default 60). The last line it
 * prints is a JSON summary.
 */
import { BugbotsClient, makeClient } from "bugbots/client"
import { BunRuntime } from "@effect/platform-bun"
import { Config, Console, Effect, Schedule } from "effect"

const agent = Effect.gen(function* () {
  const client = yield* BugbotsClient
  const leaseSeconds = yield* Config.integer("BUGBOTS_LEASE_SECONDS").pipe(Config.withDefault(60))

  const claimed = yield* client.Claim({ lease_seconds: leaseSeconds })
  if (claimed === null) {
    yield* Console.log(JSON.stringify({ claimed: false }))
    return
  }
  const { bug, lease } = claimed
  const session = yield* client.StartSession()
  const log = (type: string, message: string) => client.LogWork({ session_id: session.id, bug_id: bug.id, type, message })

  yield* log("claimed", `claimed "${bug.title}" (${bug.severity ?? "no severity"})`)

  // Keep the lease while working: a heartbeat at a third of the lease, for as long as the work runs.
  const heartbeat = client.Heartbeat({ id: bug.id, lease_token: lease.token, lease_seconds: leaseSeconds })
  const renewed = yield* heartbeat
  yield* heartbeat.pipe(Effect.repeat(Schedule.spaced(`${Math.floor(leaseSeconds / 3)} seconds`)), Effect.forkScoped)

  yield* log("step", "reproducing the bug")
  yield* log("step", `lease renewed until ${renewed.expires_at.toString()}`)
  yield* client.AddNote({ id: bug.id, body: "Reproduced and fixed by the example agent." })
  const resolved = yield* client.ChangeStatus({ id: bug.id, status: "resolved", reason: "fixed by the example agent" })
  yield* log("resolved", `bug is ${resolved.status}`)
  yield* client.EndSession({ session_id: session.id })

  yield* Console.log(JSON.stringify({ claimed: true, bug_id: bug.id, status: resolved.status, session_id: session.id }))
})

const main = Effect.gen(function* () {
  const url = yield* Config.string("BUGBOTS_URL").pipe(Config.withDefault("http://127.0.0.1:3000"))
  const token = yield* Config.string("BUGBOTS_TOKEN")
  const transport = yield* Config.literal("http", "websocket")("BUGBOTS_TRANSPORT").pipe(Config.withDefault("http" as const))
  yield* agent.pipe(Effect.scoped, Effect.provide(makeClient({ url, token, transport })))
})

BunRuntime.runMain(main)
