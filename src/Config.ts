import { Config, Duration, Effect, LogLevel, Option, Redacted } from "effect"

const levels: Record<string, LogLevel.LogLevel> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None
}

/** `LOG_LEVEL`: debug..error, any case. */
const logLevel = Config.string("LOG_LEVEL").pipe(
  Config.withDefault("info"),
  Config.map((s) => s.toLowerCase()),
  Config.validate({ message: `LOG_LEVEL must be one of ${Object.keys(levels).join(", ")}`, validation: (s) => s in levels }),
  Config.map((s) => levels[s])
)

/** A secret that may be unset; set to the empty string counts as unset. */
const optionalSecret = (name: string) =>
  Config.option(Config.redacted(name)).pipe(Config.map(Option.filter((value) => Redacted.value(value).length > 0)))

const knownAiProviders = ["anthropic", "openai", "heuristic"] as const
type AiProviderName = (typeof knownAiProviders)[number]

/** `BUGBOTS_AI_PROVIDERS`: a comma list of anthropic, openai, heuristic; heuristic is put last whatever the list says. */
const aiProviders = Config.string("BUGBOTS_AI_PROVIDERS").pipe(
  Config.withDefault("anthropic,openai,heuristic"),
  Config.map((s) => s.split(",").map((name) => name.trim().toLowerCase()).filter((name) => name.length > 0)),
  Config.validate({
    message: `BUGBOTS_AI_PROVIDERS must list only ${knownAiProviders.join(", ")}`,
    validation: (names) => names.every((name) => (knownAiProviders as ReadonlyArray<string>).includes(name))
  }),
  Config.map((names) => [...new Set([...(names as Array<AiProviderName>).filter((name) => name !== "heuristic"), "heuristic" as const])])
)

/** A model provider's settings: `BUGBOTS_<NAME>_API_KEY`, `_BASE_URL`, `_MODEL`. It takes part once a key or a base URL is set. */
const aiProvider = (name: string, defaultModel: string) =>
  Config.all({
    apiKey: optionalSecret(`BUGBOTS_${name}_API_KEY`),
    baseUrl: Config.option(Config.url(`BUGBOTS_${name}_BASE_URL`)).pipe(Config.map(Option.map((url) => url.href.replace(/\/$/, "")))),
    model: Config.string(`BUGBOTS_${name}_MODEL`).pipe(Config.withDefault(defaultModel))
  })

/** Every setting of the service, read once (contract §1). */
export class AppConfig extends Effect.Service<AppConfig>()("bugbots/AppConfig", {
  effect: Effect.gen(function* () {
    return {
      port: yield* Config.integer("PORT").pipe(
        Config.validate({ message: "PORT must be 0..65535 (0: any free port)", validation: (p) => p >= 0 && p <= 65535 }),
        Config.withDefault(3000)
      ),
      host: yield* Config.string("HOST").pipe(Config.withDefault("0.0.0.0")),
      databaseUrl: yield* optionalSecret("DATABASE_URL"),
      dataDir: yield* Config.string("BUGBOTS_DATA_DIR").pipe(Config.withDefault(".data")),
      embeddedPort: yield* Config.port("BUGBOTS_EMBEDDED_PG_PORT").pipe(Config.withDefault(54329)),
      bootstrapToken: yield* optionalSecret("BUGBOTS_BOOTSTRAP_TOKEN"),
      githubWebhookSecret: yield* optionalSecret("GITHUB_WEBHOOK_SECRET"),
      /** The service's address as clients reach it (DSNs of ingest keys); unset, the request's own. */
      publicUrl: yield* Config.option(Config.url("BUGBOTS_PUBLIC_URL")).pipe(Config.map(Option.map((url) => url.href))),
      /** Error reports per minute per ingest key (contract §9, §12); 0 turns the limit off. */
      ingestRateLimit: yield* Config.integer("BUGBOTS_INGEST_RATE_LIMIT").pipe(
        Config.validate({ message: "BUGBOTS_INGEST_RATE_LIMIT must be 0 or more", validation: (n) => n >= 0 }),
        Config.withDefault(6000)
      ),
      /** Mutating REST requests per minute per principal (contract §12); 0 turns the limit off. */
      rateLimit: yield* Config.integer("BUGBOTS_RATE_LIMIT").pipe(
        Config.validate({ message: "BUGBOTS_RATE_LIMIT must be 0 or more", validation: (n) => n >= 0 }),
        Config.withDefault(6000)
      ),
      /** The window both rate limits count in (the contract's minute; shorter in tests). */
      rateLimitWindow: yield* Config.duration("BUGBOTS_RATE_LIMIT_WINDOW").pipe(Config.withDefault(Duration.minutes(1))),
      /** Where spans are exported (OTLP/HTTP); unset, tracing costs nothing. */
      otlpEndpoint: yield* Config.option(Config.string("OTEL_EXPORTER_OTLP_ENDPOINT")).pipe(Config.map(Option.filter((url) => url.length > 0))),
      /** Attempts of a webhook delivery before it is dead-lettered (status `failed`). */
      webhookMaxAttempts: yield* Config.integer("BUGBOTS_WEBHOOK_MAX_ATTEMPTS").pipe(
        Config.validate({ message: "BUGBOTS_WEBHOOK_MAX_ATTEMPTS must be at least 1", validation: (n) => n >= 1 }),
        Config.withDefault(8)
      ),
      /** Deliveries one instance applies at once (each holds a pool connection for its transaction); 1..64. */
      webhookConcurrency: yield* Config.integer("BUGBOTS_WEBHOOK_CONCURRENCY").pipe(
        Config.validate({ message: "BUGBOTS_WEBHOOK_CONCURRENCY must be 1 to 64", validation: (n) => n >= 1 && n <= 64 }),
        Config.withDefault(4)
      ),
      /** The first wait of the webhook retry schedule (it doubles, with jitter, capped at 10 minutes). */
      webhookRetryBase: yield* Config.duration("BUGBOTS_WEBHOOK_RETRY_BASE").pipe(Config.withDefault(Duration.seconds(2))),
      /** On SIGTERM/SIGINT, how long requests in flight may take to finish before they are cut (503). */
      shutdownGrace: yield* Config.duration("BUGBOTS_SHUTDOWN_GRACE").pipe(Config.withDefault(Duration.seconds(10))),
      maxBodyBytes: yield* Config.integer("BUGBOTS_MAX_BODY_BYTES").pipe(Config.withDefault(1024 * 1024)),
      dbPoolSize: yield* Config.integer("BUGBOTS_DB_POOL").pipe(Config.withDefault(10)),
      logLevel: yield* logLevel,
      logFormat: yield* Config.literal("json", "pretty")("LOG_FORMAT").pipe(Config.withDefault("json" as const)),
      /** How often the realtime relay reads the event log when no NOTIFY arrives. */
      relayPollInterval: yield* Config.duration("BUGBOTS_RELAY_POLL").pipe(Config.withDefault(Duration.millis(500))),
      /** A WebSocket silent this long (no message, no pong to the server's ping) is dropped; 8..960. */
      wsIdleSeconds: yield* Config.integer("BUGBOTS_WS_IDLE_SECONDS").pipe(Config.withDefault(30)),
      /** Bytes a WebSocket may have queued unsent (a catching-up socket is written only below it); Bun drops one past 4× it. */
      wsBufferBytes: yield* Config.integer("BUGBOTS_WS_BUFFER_BYTES").pipe(Config.withDefault(1024 * 1024)),
      /** How long a WebSocket may stay over `wsBufferBytes` (then closed 4008), or take none of what Bun holds for it (then dropped). */
      wsStallTimeout: yield* Config.duration("BUGBOTS_WS_STALL").pipe(Config.withDefault(Duration.seconds(10))),
      /** How often an instance that does not lead tries the leader lock (and the leader checks it still holds it). */
      leaderPoll: yield* Config.duration("BUGBOTS_LEADER_POLL").pipe(Config.withDefault(Duration.seconds(5))),
      /** The reconciler's and missed-delivery recovery's schedule on the leader (contract §11). */
      reconcileInterval: yield* Config.duration("BUGBOTS_RECONCILE_INTERVAL").pipe(Config.withDefault(Duration.minutes(10))),
      recoveryInterval: yield* Config.duration("BUGBOTS_RECOVERY_INTERVAL").pipe(Config.withDefault(Duration.minutes(15))),
      /** Issues one reconcile run takes per repo; the next run goes on from there. */
      reconcileBatch: yield* Config.integer("BUGBOTS_RECONCILE_BATCH").pipe(
        Config.validate({ message: "BUGBOTS_RECONCILE_BATCH must be at least 1", validation: (n) => n >= 1 }),
        Config.withDefault(500)
      ),
      /** The longest wait for GitHub's rate limit within a run (longer: the run fails and the next one retries). */
      githubMaxWait: yield* Config.duration("BUGBOTS_GITHUB_MAX_WAIT").pipe(Config.withDefault(Duration.minutes(5))),
      /** Waits GitHub asks for are multiplied by this (tests scale a 60 s retry-after down). */
      githubWaitScale: yield* Config.number("BUGBOTS_GITHUB_WAIT_SCALE").pipe(
        Config.validate({ message: "BUGBOTS_GITHUB_WAIT_SCALE must be 0..1", validation: (n) => n >= 0 && n <= 1 }),
        Config.withDefault(1)
      ),
      /** Signs the internal v2 protocol of bot workers (contract §10); unset, those endpoints answer 503. */
      internalSecret: yield* optionalSecret("BUGBOTS_INTERNAL_SECRET"),
      /** The GitHub App (contract §10): its id and private key (PEM, or `@path` of a PEM file). */
      githubAppId: yield* Config.option(Config.string("GITHUB_APP_ID")).pipe(Config.map(Option.filter((id) => id.length > 0))),
      githubAppPrivateKey: yield* optionalSecret("GITHUB_APP_PRIVATE_KEY"),
      githubApiUrl: yield* Config.string("GITHUB_API_URL").pipe(Config.withDefault("https://api.github.com")),
      /** `off`: this instance executes no bot actions (external workers do, over the v2 protocol). */
      executor: yield* Config.literal("on", "off")("BUGBOTS_EXECUTOR").pipe(Config.withDefault("on" as const)),
      executorConcurrency: yield* Config.integer("BUGBOTS_EXECUTOR_CONCURRENCY").pipe(
        Config.validate({ message: "BUGBOTS_EXECUTOR_CONCURRENCY must be 1..64", validation: (n) => n >= 1 && n <= 64 }),
        Config.withDefault(8)
      ),
      /** Least time between two writes of one installation (GitHub asks for a second between content-creating requests). */
      githubWriteInterval: yield* Config.duration("BUGBOTS_GITHUB_WRITE_INTERVAL").pipe(Config.withDefault(Duration.seconds(1))),
      /** Attempts of a bot action before it is dead-lettered (`FAILED`), and the first retry's wait. */
      botActionMaxAttempts: yield* Config.integer("BUGBOTS_BOT_ACTION_MAX_ATTEMPTS").pipe(
        Config.validate({ message: "BUGBOTS_BOT_ACTION_MAX_ATTEMPTS must be at least 1", validation: (n) => n >= 1 }),
        Config.withDefault(8)
      ),
      botActionRetryBase: yield* Config.duration("BUGBOTS_BOT_ACTION_RETRY_BASE").pipe(Config.withDefault(Duration.seconds(5))),
      /** How often each instance looks for pull-request gate challenges past their deadline. */
      gateSweepInterval: yield* Config.duration("BUGBOTS_GATE_SWEEP").pipe(Config.withDefault(Duration.seconds(30))),
      /** `off`: no `/metrics` and no HTTP series recorded (to measure what they cost). */
      metrics: yield* Config.literal("on", "off")("BUGBOTS_METRICS").pipe(Config.withDefault("on" as const)),
      /** The `service.name` of exported spans. */
      otelServiceName: yield* Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("bugbots")),
      /** How often finished spans are sent to the OTLP endpoint, in milliseconds (OpenTelemetry's batch span processor delay). */
      otlpExportDelayMs: yield* Config.integer("OTEL_BSP_SCHEDULE_DELAY").pipe(Config.withDefault(5000)),
      /** How often each instance writes its heartbeat row; one silent for 3 of these is shown as gone. */
      instanceHeartbeat: yield* Config.duration("BUGBOTS_INSTANCE_HEARTBEAT").pipe(Config.withDefault(Duration.seconds(10))),
      /** When set, `/metrics` needs it as a bearer token (contract §12). */
      metricsToken: yield* optionalSecret("BUGBOTS_METRICS_TOKEN"),
      /** The AI providers of analyses, tried in this order (contract §13); `heuristic` is always last, added if missing. */
      aiProviders: yield* aiProviders,
      /** How long one provider may take to answer an analysis before the next is tried. */
      aiTimeout: yield* Config.duration("BUGBOTS_AI_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30))),
      openai: yield* aiProvider("OPENAI", "gpt-4.1-mini"),
      anthropic: yield* aiProvider("ANTHROPIC", "claude-sonnet-4-5"),
      /** Where `email` notification channels send (`smtp://user:pass@host:port`, `smtps://…`); unset: email channels are refused. */
      smtpUrl: yield* optionalSecret("BUGBOTS_SMTP_URL"),
      smtpFrom: yield* Config.string("BUGBOTS_SMTP_FROM").pipe(Config.withDefault("bugbots <bugbots@localhost>")),
      /** Lets webhook and Slack targets resolve to loopback, private, link-local or unique-local addresses (tests, private setups). */
      allowPrivateTargets: yield* Config.boolean("BUGBOTS_ALLOW_PRIVATE_TARGETS").pipe(Config.withDefault(false)),
      /** Seals notification channel secrets at rest (AES-256-GCM under its SHA-256); unset: channels with a secret are refused. */
      secretsKey: yield* optionalSecret("BUGBOTS_SECRETS_KEY"),
      /** How often each instance looks for bugs past their SLA deadline (one notification per breach, whichever instance finds it). */
      slaSweepInterval: yield* Config.duration("BUGBOTS_SLA_SWEEP_INTERVAL").pipe(Config.withDefault(Duration.seconds(15))),
      /** Attempts of a notification delivery before it is dead-lettered, and the first retry's wait. */
      notificationMaxAttempts: yield* Config.integer("BUGBOTS_NOTIFICATION_MAX_ATTEMPTS").pipe(
        Config.validate({ message: "BUGBOTS_NOTIFICATION_MAX_ATTEMPTS must be at least 1", validation: (n) => n >= 1 }),
        Config.withDefault(6)
      ),
      notificationRetryBase: yield* Config.duration("BUGBOTS_NOTIFICATION_RETRY_BASE").pipe(Config.withDefault(Duration.seconds(5)))
    }
  })
}) {}
