import { HttpServer } from "@effect/platform"
import { ConfigProvider, Effect, Exit, Layer, Scope } from "effect"
import { randomBytes } from "node:crypto"
import { ServerLive } from "../../src/Server.js"
import { createDatabase } from "./Database.js"

/** The admin URL of the test PostgreSQL (`bun run test` sets it; see test/run.ts). */
export const adminUrl = () => {
  const url = process.env.TEST_DATABASE_URL
  if (!url) throw new Error("TEST_DATABASE_URL is not set: run the tests with `bun run test`")
  return url
}

/** A fresh, empty database on the test server; every test file gets its own. */
export const freshDatabase = (prefix = "bugbots_test") => createDatabase(adminUrl(), prefix)

export interface TestService {
  readonly baseUrl: string
  readonly port: number
  readonly databaseUrl: string
  /** The bootstrap superuser's token. */
  readonly rootToken: string
  readonly sql: InstanceType<typeof Bun.SQL>
  readonly stop: () => Promise<void>
}

export interface ServiceOptions {
  readonly env?: Record<string, string>
  readonly databaseUrl?: string
}

/** The real service, in this process, on an ephemeral port, against its own fresh database. */
export const startService = async (options: ServiceOptions = {}): Promise<TestService> => {
  const databaseUrl = options.databaseUrl ?? (await freshDatabase()).url
  const rootToken = `root_${randomBytes(16).toString("hex")}`
  const env = {
    PORT: "0",
    HOST: "127.0.0.1",
    DATABASE_URL: databaseUrl,
    BUGBOTS_BOOTSTRAP_TOKEN: rootToken,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
    ...options.env
  }
  const scope = Effect.runSync(Scope.make())
  const layer = ServerLive.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const server = Effect.runSync(Effect.provide(HttpServer.HttpServer, context))
  const address = server.address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  const sql = new Bun.SQL(databaseUrl)
  return {
    baseUrl: `http://127.0.0.1:${address.port}`,
    port: address.port,
    databaseUrl,
    rootToken,
    sql,
    stop: async () => {
      await sql.close()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}
