import { Config, Effect, LogLevel } from "effect"

/** Every setting of the service, read once (contract §1). */
export class AppConfig extends Effect.Service<AppConfig>()("bugbots/AppConfig", {
  effect: Effect.gen(function* () {
    return {
      port: yield* Config.integer("PORT").pipe(
        Config.validate({ message: "PORT must be 0..65535 (0: any free port)", validation: (p) => p >= 0 && p <= 65535 }),
        Config.withDefault(3000)
      ),
      host: yield* Config.string("HOST").pipe(Config.withDefault("0.0.0.0")),
      databaseUrl: yield* Config.option(Config.redacted("DATABASE_URL")),
      dataDir: yield* Config.string("BUGBOTS_DATA_DIR").pipe(Config.withDefault(".data")),
      embeddedPort: yield* Config.port("BUGBOTS_EMBEDDED_PG_PORT").pipe(Config.withDefault(54329)),
      bootstrapToken: yield* Config.option(Config.redacted("BUGBOTS_BOOTSTRAP_TOKEN")),
      githubWebhookSecret: yield* Config.option(Config.redacted("GITHUB_WEBHOOK_SECRET")),
      maxBodyBytes: yield* Config.integer("BUGBOTS_MAX_BODY_BYTES").pipe(Config.withDefault(1024 * 1024)),
      dbPoolSize: yield* Config.integer("BUGBOTS_DB_POOL").pipe(Config.withDefault(10)),
      logLevel: yield* Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info)),
      logFormat: yield* Config.literal("json", "pretty")("LOG_FORMAT").pipe(Config.withDefault("json" as const))
    }
  })
}) {}
