import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option } from "effect"
import { Agents } from "./Agents/Agents.js"
import { AgentSessions } from "./AgentSessions/AgentSessions.js"
import { Auth } from "./Auth/Auth.js"
import { Bugs, LeaseSweeperLive } from "./Bugs/Bugs.js"
import { AppConfig } from "./Config.js"
import { HttpLive } from "./Http.js"
import { Jobs } from "./Jobs/Jobs.js"
import { RateLimits } from "./RateLimits/RateLimits.js"
import { Reports } from "./Reports/Reports.js"
import { LoggingLive } from "./Logging.js"
import { TracingLive } from "./Tracing.js"
import { EventHub } from "./Realtime/EventHub.js"
import { RelayLive } from "./Realtime/Relay.js"
import { Rooms } from "./Realtime/Rooms.js"
import { RoomFeed } from "./Realtime/RoomFeed.js"
import { Shutdown } from "./Shutdown.js"
import { withDb } from "./Sql/Retry.js"
import { MigrationsLive, SqlLive } from "./Sql/Sql.js"
import { Users } from "./Users/Users.js"
import { Villages } from "./Villages/Villages.js"
import { Installations } from "./Villages/Installations.js"
import { Webhooks } from "./Webhooks/Webhooks.js"
import { Metrics } from "./Metrics/Metrics.js"
import { Instances } from "./Instances/Instances.js"
import { Status } from "./Status/Status.js"
import { Stats } from "./Stats/Stats.js"
import { WebhookWorkerLive } from "./Webhooks/Worker.js"
import { BotActions } from "./BotActions/BotActions.js"
import { ExecutorLive } from "./BotActions/Executor.js"
import { GitHubClient } from "./GitHub/Client.js"
import { Instance } from "./Instance.js"
import { Leader } from "./Leader/Leader.js"
import { Reconciler, ReconcilerLive } from "./Reconciler/Reconciler.js"
import { Gate, GateSweeperLive } from "./Gate/Gate.js"
import { Analyses } from "./Analyses/Analyses.js"
import { AnalysisWorkerLive } from "./Analyses/Worker.js"
import { Notifications } from "./Notifications/Notifications.js"
import { NotificationWorkerLive } from "./Notifications/Worker.js"

/** Contract §1: `BUGBOTS_BOOTSTRAP_TOKEN` makes sure a superuser `admin` exists with that token. */
const BootstrapLive = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* AppConfig
    if (Option.isNone(config.bootstrapToken)) return
    const token = config.bootstrapToken.value
    const sql = yield* SqlClient.SqlClient
    const users = yield* Users
    const auth = yield* Auth
    yield* sql.withTransaction(users.ensureSuperuser("admin").pipe(Effect.flatMap((id) => auth.grant(id, token, "bootstrap")))).pipe(withDb)
    yield* Effect.logInfo("bootstrap superuser admin ensured")
  })
)

/** The services the routes share, provided outside `serve`. */
export const ServicesLive = Layer.mergeAll(
  Auth.Default,
  Bugs.Default,
  Villages.Default,
  Users.Default,
  Agents.Default,
  AgentSessions.Default,
  Webhooks.Default,
  EventHub.Default,
  Rooms.Default,
  RoomFeed.Default,
  Jobs.Default,
  Reports.Default,
  RateLimits.Default,
  Shutdown.Default,
  BotActions.Default,
  GitHubClient.Default,
  Instance.Default,
  Leader.Default,
  Reconciler.Default,
  Gate.Default,
  Installations.Default,
  Metrics.Default,
  Instances.Default,
  Status.Default,
  Stats.Default,
  Analyses.Default,
  Notifications.Default
)

const DatabaseLive = MigrationsLive.pipe(Layer.provideMerge(SqlLive))

/** The whole service: database (migrated), bootstrap, background workers and the HTTP server. */
export const ServerLive = HttpLive.pipe(
  Layer.provide(BootstrapLive),
  Layer.provide(LeaseSweeperLive),
  Layer.provide(RelayLive),
  Layer.provide(WebhookWorkerLive),
  Layer.provide(ExecutorLive),
  Layer.provide(ReconcilerLive),
  Layer.provide(GateSweeperLive),
  Layer.provide(AnalysisWorkerLive),
  Layer.provide(NotificationWorkerLive),
  Layer.provide(ServicesLive),
  Layer.provide(DatabaseLive),
  Layer.provide(LoggingLive),
  Layer.provide(TracingLive),
  Layer.provideMerge(AppConfig.Default)
)
