import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { SQL } from "bun"
import { ConfigProvider, Context, Effect, Exit, Layer, Option, Redacted, Ref, Scope } from "effect"
import { AppConfig } from "../src/Config.js"
import { Instance } from "../src/Instance.js"
import { Leader } from "../src/Leader/Leader.js"
import * as BunPgClient from "../src/Sql/BunPgClient.js"
import { freshDatabase } from "./lib/Service.js"

/**
 * The leader lock of two instances on one real database: each instance is the real `Leader` with
 * its own connections (as two processes would have), the lock and the connections PostgreSQL's.
 */

const poll = 100
let url: string
let admin: SQL

interface Node {
  readonly id: string
  readonly leader: Leader
  /** How many times its scheduled job ran. */
  readonly runs: Ref.Ref<number>
  readonly scope: Scope.CloseableScope
}

const start = async (): Promise<Node> => {
  const scope = Effect.runSync(Scope.make())
  const layer = Layer.mergeAll(Leader.Default, Instance.Default).pipe(
    Layer.provide(BunPgClient.layer({ url: Redacted.make(url), maxConnections: 2, applicationName: "bugbots" })),
    Layer.provide(AppConfig.Default),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["BUGBOTS_LEADER_POLL", `${poll} millis`]]))))
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const leader = Context.get(context, Leader)
  const runs = Effect.runSync(Ref.make(0))
  await Effect.runPromise(Scope.extend(leader.scheduled("count", "20 millis", Ref.update(runs, (n) => n + 1)), scope))
  return { id: Context.get(context, Instance).id, leader, runs, scope }
}

const stop = (node: Node) => Effect.runPromise(Scope.close(node.scope, Exit.void))
const isLeader = (node: Node) => Effect.runPromise(node.leader.isLeader)
const runs = (node: Node) => Effect.runPromise(Ref.get(node.runs))
/** The instance id PostgreSQL says holds the lock. */
const holder = async (node: Node) => Option.getOrUndefined(await Effect.runPromise(node.leader.current))?.instance_id

const until = async (condition: () => Promise<boolean>, ms: number) => {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`)
    await Bun.sleep(10)
  }
  return Date.now() - (deadline - ms)
}

beforeAll(async () => {
  url = (await freshDatabase("bugbots_leader")).url
  admin = new SQL(url)
})

afterAll(async () => {
  await admin.close()
})

describe("the leader lock", () => {
  test("one of two instances leads and runs the scheduled work; the other runs none", async () => {
    const a = await start()
    const b = await start()
    try {
      await until(async () => (await isLeader(a)) || (await isLeader(b)), 5 * poll)
      const [leader, follower] = (await isLeader(a)) ? [a, b] : [b, a]
      await Bun.sleep(4 * poll)
      expect(await isLeader(follower)).toBe(false)
      expect(await holder(follower)).toBe(leader.id)
      expect(await runs(leader)).toBeGreaterThan(2)
      expect(await runs(follower)).toBe(0)
    } finally {
      await stop(a)
      await stop(b)
    }
  })

  test("the leader's connection killed: it stops at once, and the other takes over within a poll", async () => {
    const a = await start()
    await until(() => isLeader(a), 5 * poll)
    const b = await start()
    try {
      await Bun.sleep(2 * poll)
      expect(await isLeader(b)).toBe(false)
      const killed = await admin`select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = ${`bugbots-leader:${a.id}`}`
      expect(killed.length).toBe(1)
      const lost = await until(async () => !(await isLeader(a)), 2 * poll)
      expect(lost).toBeLessThan(poll)
      const before = await runs(a)
      await until(async () => (await holder(b)) !== undefined, 3 * poll)
      // Whoever holds it now is the only one that thinks it leads, and the scheduled work moved with it.
      await Bun.sleep(3 * poll)
      const now = await holder(b)
      const [leader, other] = now === b.id ? [b, a] : [a, b]
      expect(await isLeader(leader)).toBe(true)
      expect(await isLeader(other)).toBe(false)
      if (leader === b) {
        expect(await runs(a)).toBe(before)
        expect(await runs(b)).toBeGreaterThan(0)
      }
    } finally {
      await stop(a)
      await stop(b)
    }
  })

  test("the leader stopped: the other takes over within a poll", async () => {
    const a = await start()
    await until(() => isLeader(a), 5 * poll)
    const b = await start()
    try {
      await stop(a)
      const took = await until(() => isLeader(b), 3 * poll)
      expect(took).toBeLessThan(2 * poll + 50)
      expect(await holder(b)).toBe(b.id)
    } finally {
      await stop(b)
    }
  })
})
