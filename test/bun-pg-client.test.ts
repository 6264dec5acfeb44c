import * as Reactivity from "@effect/experimental/Reactivity"
import { PgClient } from "@effect/sql-pg"
import { SqlError } from "@effect/sql/SqlError"
import type { Statement } from "@effect/sql/Statement"
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { SQL } from "bun"
import { Cause, Context, Effect, Exit, Fiber, Layer, Option, Redacted, Scope, Stream } from "effect"
import * as BunPgClient from "../src/Sql/BunPgClient.js"
import { databaseRetry, isTransient, sqlStateOf } from "../src/Sql/Retry.js"
import { freePort } from "./lib/Child.js"
import { freshDatabase } from "./lib/Service.js"

/** The adapter next to @effect/sql-pg, on one real database: what the code writes must behave the same. */

const applicationName = "bugbots_adapter_test"
let scope: Scope.CloseableScope
let url: string
let admin: SQL
let bun: PgClient.PgClient
let pg: PgClient.PgClient

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
/** The SqlError `effect` fails with, or dies with (@effect/sql turns a failed ROLLBACK into a defect). */
const failure = async <A>(effect: Effect.Effect<A, SqlError>) => {
  const exit = await Effect.runPromiseExit(effect)
  const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
  if (!(error instanceof SqlError)) throw new Error(`expected a SqlError, got ${String(exit)}`)
  return error
}

beforeAll(async () => {
  url = (await freshDatabase("bugbots_adapter")).url
  admin = new SQL(url)
  await admin`create table items (id int primary key, name text, data jsonb)`
  scope = Effect.runSync(Scope.make())
  const build = <I, S>(layer: Layer.Layer<I, unknown>, tag: Context.Tag<S, S>) =>
    run(Effect.map(Layer.buildWithScope(layer, scope), (context) => Context.unsafeGet(context as Context.Context<unknown>, tag)))
  bun = await build(BunPgClient.layer({ url: Redacted.make(url), maxConnections: 4, applicationName }), PgClient.PgClient)
  pg = await build(PgClient.layer({ url: Redacted.make(url) }), PgClient.PgClient)
})

afterAll(async () => {
  await run(Scope.close(scope, Exit.void))
  await admin.close()
})

describe("statements", () => {
  const statements = (sql: PgClient.PgClient): ReadonlyArray<Statement<unknown>> => [
    sql`select * from ${sql("items")} where id = ${1} and name = ${"a"} and data = ${sql.json({ a: [1, "x"] })}`,
    sql`insert into items ${sql.insert([{ id: 1, name: "x", data: sql.json({ k: 1 }) }, { id: 2, name: null, data: sql.json([]) }])} returning *`,
    sql`update items set ${sql.update({ id: 3, name: "y" }, ["id"])} where id = ${3}`,
    sql`update items set name = v.name from ${sql.updateValues([{ id: 1, name: "v" }], "v")} where items.id = v.id`,
    sql`select ${sql.csv(["id", "name"])} from items where ${sql.in("id", [1, 2, 3])} and ${sql.and([sql`name = ${"x"}`, sql.or(["true", sql`id > ${0}`])])}`,
    sql`select ${sql.literal("count(*)::int")} as n from items where id = any(${["1", "2"]}::int[]) ${sql.unsafe("and name is not null")}`,
    sql.unsafe("select $1::text as t", ["raw"])
  ]

  test("compile exactly as with @effect/sql-pg", () => {
    const mine = statements(bun).map((s) => s.compile())
    const theirs = statements(pg).map((s) => s.compile())
    expect(mine).toEqual(theirs)
  })

  test("run and write the same rows as with @effect/sql-pg", async () => {
    const write = (sql: PgClient.PgClient, id: number) =>
      sql`insert into items ${sql.insert({ id, name: `n${id}`, data: sql.json({ id, tags: ["a", null], nested: { ok: true } }) })} returning *`
    const mine = await run(write(bun, 10))
    const theirs = await run(write(pg, 11))
    expect(mine).toEqual([{ id: 10, name: "n10", data: { id: 10, tags: ["a", null], nested: { ok: true } } }])
    expect(theirs).toEqual([{ id: 11, name: "n11", data: { id: 11, tags: ["a", null], nested: { ok: true } } }])
    const read = (sql: PgClient.PgClient) =>
      sql`select id, name, data from items where ${sql.in("id", [10, 11])} order by id`
    expect(await run(read(bun))).toEqual(await run(read(pg)))
    const updated = await run(bun`update items set ${bun.update({ name: "renamed" })} where id = ${10} returning name`)
    expect(updated).toEqual([{ name: "renamed" }])
    const multi = await run(bun.unsafe("select 1 as a; select 2 as b"))
    expect(multi.map((rows) => [...(rows as unknown as Array<unknown>)])).toEqual([[{ a: 1 }], [{ b: 2 }]])
  })

  test("values, raw results and streams", async () => {
    const rows = (sql: PgClient.PgClient) => sql`select n, n::text as t from generate_series(1, 3) as n order by n`
    expect(await run(rows(bun).values)).toEqual([[1, "1"], [2, "2"], [3, "3"]])
    expect(await run(rows(bun).values)).toEqual(await run(rows(pg).values))
    expect([...(await run(rows(bun).raw as Effect.Effect<Iterable<unknown>, SqlError>))]).toEqual([{ n: 1, t: "1" }, { n: 2, t: "2" }, { n: 3, t: "3" }])
    expect([...(await run(Stream.runCollect(rows(bun).stream)))]).toEqual([{ n: 1, t: "1" }, { n: 2, t: "2" }, { n: 3, t: "3" }])
  })
})

describe("types", () => {
  const at = new Date("2024-01-02T03:04:05.678Z")
  const hash = Buffer.from([0, 1, 2, 255])
  const results = (sql: PgClient.PgClient) =>
    sql`
      select 9007199254740993::int8 as i8, 2::int4 as i4, 1.5::numeric as num, 1.5::float8 as f8, true as yes,
        '2024-01-02T03:04:05.678Z'::timestamptz as ts, '{"a":[1,null]}'::jsonb as jb, '{"a":1}'::json as js,
        string_to_array('a b', ' ') as rooms, array[1, 2]::int8[] as seqs, 'f47ac10b-58cc-4372-a567-0e02b2c3d479'::uuid as id,
        '\\x0001'::bytea as bytes, null::text as nothing`
  const parameters = (sql: PgClient.PgClient) =>
    sql`
      select ${hash} = '\\x000102ff'::bytea as same_hash, ${at}::timestamptz as at, ${at} = '2024-01-02T03:04:05.678Z'::timestamptz as same_at,
        make_interval(secs => ${1.5})::text as interval, make_interval(secs => ${30})::text as whole, ${null}::text is null as is_null,
        ${"f47ac10b-58cc-4372-a567-0e02b2c3d479"}::uuid as id, ${true}::boolean as flag, ${42} + 1 as answer, ${"7"}::int as parsed,
        'b' = any(${["a", "b"]}) as found, ${"a,b"} as text, ${sql.json({ a: 1 })}::jsonb as object,
        ${'{"a":1}'}::text::jsonb as from_text`

  test("results decode as with @effect/sql-pg", async () => {
    const [mine] = await run(results(bun))
    expect(mine).toEqual((await run(results(pg)))[0])
    expect(mine).toEqual({
      i8: "9007199254740993", i4: 2, num: "1.5", f8: 1.5, yes: true, ts: at, jb: { a: [1, null] }, js: { a: 1 },
      rooms: ["a", "b"], seqs: ["1", "2"], id: "f47ac10b-58cc-4372-a567-0e02b2c3d479", bytes: Buffer.from([0, 1]), nothing: null
    })
  })

  test("parameters bind as with @effect/sql-pg", async () => {
    const [mine] = await run(parameters(bun))
    expect(mine).toEqual((await run(parameters(pg)))[0])
    expect(mine).toMatchObject({ same_hash: true, at, same_at: true, interval: "00:00:01.5", whole: "00:00:30", is_null: true, answer: 43, object: { a: 1 }, from_text: { a: 1 } })
  })

  test("a string bound to a jsonb parameter is a JSON string, unlike pg: JSON text goes in as text", async () => {
    expect(await run(bun`select ${'{"a":1}'}::jsonb as j`)).toEqual([{ j: '{"a":1}' }])
    expect(await run(pg`select ${'{"a":1}'}::jsonb as j`)).toEqual([{ j: { a: 1 } }])
  })
})

describe("transactions", () => {
  const session = (sql: PgClient.PgClient) => sql<{ pid: number; tx: string }>`select pg_backend_pid() as pid, txid_current()::text as tx`

  test("every statement of a transaction runs on one connection, in one transaction", async () => {
    const [a, b, c] = await run(bun.withTransaction(Effect.all([session(bun), session(bun), session(bun)], { concurrency: 3 })))
    expect(b).toEqual(a)
    expect(c).toEqual(a)
    const outside = await run(Effect.all([session(bun), session(bun)]))
    expect(outside[0][0].tx).not.toBe(a[0].tx)
  })

  test("a failed transaction leaves nothing; a failed savepoint only its own writes", async () => {
    const insert = (id: number) => bun`insert into items (id, name) values (${id}, 'tx')`
    await run(bun.withTransaction(Effect.zipRight(insert(20), Effect.fail("boom"))).pipe(Effect.ignore))
    await run(
      bun.withTransaction(
        insert(21).pipe(Effect.zipRight(bun.withTransaction(Effect.zipRight(insert(22), Effect.fail("inner"))).pipe(Effect.ignore)))
      )
    )
    expect(await admin`select id from items where name = 'tx' order by id`).toEqual([{ id: 21 }])
  })
})

describe("errors", () => {
  test("the server's errors carry their SQLSTATE and are not transient", async () => {
    const duplicate = await failure(bun`insert into items (id) values (${30}), (${30})`)
    expect(duplicate.cause).toBeInstanceOf(SQL.PostgresError)
    expect(sqlStateOf(duplicate.cause)).toBe("23505")
    expect(isTransient(duplicate)).toBe(false)
    const syntax = await failure(bun`selec 1`)
    expect(sqlStateOf(syntax.cause)).toBe("42601")
    expect(isTransient(syntax)).toBe(false)
  })

  test("a terminated backend is transient, and the pool reconnects", async () => {
    const lost = await failure(
      bun.withTransaction(
        Effect.gen(function* () {
          const [{ pid }] = yield* bun<{ pid: number }>`select pg_backend_pid() as pid`
          yield* Effect.promise(() => admin`select pg_terminate_backend(${pid})`)
          return yield* bun`select 1`
        })
      )
    )
    expect(isTransient(lost)).toBe(true)
    await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${applicationName}`
    // A query can still meet a connection being terminated: the retry that `withDb` makes gets through.
    expect(await run(bun`select 1 as one`.pipe(Effect.retry({ schedule: databaseRetry, while: isTransient })))).toEqual([{ one: 1 }])
  })

  test("a refused connection is transient", async () => {
    const refused = await failure(
      Effect.scoped(BunPgClient.make({ url: Redacted.make(`postgres://postgres@127.0.0.1:${freePort()}/postgres`), maxConnections: 1, applicationName })).pipe(
        Effect.provide(Reactivity.layer)
      )
    )
    expect(isTransient(refused)).toBe(true)
  })
})

describe("LISTEN and NOTIFY", () => {
  test("a listener hears what is notified", async () => {
    const heard = await run(
      Effect.gen(function* () {
        const listener = yield* Effect.fork(Stream.runHead(bun.listen("adapter_test")))
        // Notified until heard: nothing tells when the LISTEN is in place.
        yield* bun.notify("adapter_test", "hello").pipe(
          Effect.zipRight(Effect.sleep("50 millis")),
          Effect.zipRight(Fiber.poll(listener)),
          Effect.repeat({ until: Option.isSome })
        )
        return yield* Fiber.join(listener)
      })
    )
    expect(heard).toEqual(Option.some("hello"))
  })

  test("a listener whose connection is lost fails, so it can listen again", async () => {
    const exit = await run(
      Effect.gen(function* () {
        const listener = yield* Effect.fork(Stream.runDrain(bun.listen("adapter_lost")))
        const listening = () => admin`select pid from pg_stat_activity where application_name = ${applicationName} and query = 'LISTEN "adapter_lost"'`
        let rows = yield* Effect.promise(listening)
        while (rows.length === 0) rows = yield* Effect.promise(listening).pipe(Effect.delay("20 millis"))
        yield* Effect.promise(() => admin`select pg_terminate_backend(${rows[0].pid})`)
        return yield* Fiber.await(listener).pipe(Effect.timeout("5 seconds"))
      })
    )
    expect(Exit.isFailure(exit)).toBe(true)
  })
})
