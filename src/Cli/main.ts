#!/usr/bin/env bun
/**
 * The `bugbots` CLI (contract §12): `bunx bugbots …`, or `bun run cli …` in the checkout. Commands that
 * speak to a running service use `BUGBOTS_URL` and `BUGBOTS_TOKEN` and its typed REST client;
 * `migrate` and `seed` work on the database itself (`DATABASE_URL`, or the embedded one).
 */
import { Command } from "@effect/cli"
import { BunContext, BunRuntime } from "@effect/platform-bun"
import { Console, Effect } from "effect"
import packageJson from "../../package.json" with { type: "json" }
import { AppConfig } from "../Config.js"
import { LoggingLive } from "../Logging.js"
import { migrate as migrateDatabase, SqlLive } from "../Sql/Sql.js"
import { bugs } from "./Bugs.js"
import { importReports } from "./ImportReports.js"
import { seedDemo } from "./Seed.js"
import { status } from "./Status.js"

const onDatabase = <A, E, R>(effect: Effect.Effect<A, E, R>) => effect.pipe(Effect.provide(LoggingLive), Effect.provide(AppConfig.Default))

const migrate = Command.make("migrate", {}, () => onDatabase(migrateDatabase.pipe(Effect.provide(SqlLive)))).pipe(
  Command.withDescription("apply the migrations the database lacks")
)
const seed = Command.make("seed", {}, () => onDatabase(seedDemo)).pipe(Command.withDescription("idempotent demo data (migrates first)"))

const bugbots = Command.make("bugbots").pipe(Command.withSubcommands([importReports, migrate, seed, status, bugs]))

const cli = Command.run(bugbots, { name: "bugbots", version: packageJson.version })

cli(process.argv).pipe(
  // A failure of the service is told as its envelope says it, and the exit code is 1.
  Effect.catchTag("ServiceFailure", (failure) =>
    Console.error(`error: ${failure.code}: ${failure.message}`).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 1))))
  ),
  Effect.provide(BunContext.layer),
  (main) => BunRuntime.runMain(main, { disablePrettyLogger: true })
)
