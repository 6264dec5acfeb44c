import { Effect, Layer } from "effect"
import { Agents } from "./Agents/Agents.js"
import { AgentSessions } from "./AgentSessions/AgentSessions.js"
import { AgentWork, LeaseSweeperLive } from "./AgentWork/AgentWork.js"
import { Auth } from "./Auth/Auth.js"
import { Bugs } from "./Bugs/Bugs.js"
import { AppConfig } from "./Config.js"
import { HttpLive } from "./Http.js"
import { LoggingLive } from "./Logging.js"
import { EventHub } from "./Realtime/EventHub.js"
import { RelayLive } from "./Realtime/Relay.js"
import { Rooms } from "./Realtime/Rooms.js"
import { WsFanout } from "./Realtime/WsFanout.js"
import { Shutdown } from "./Shutdown.js"
import { MigrationsLive, SqlLive } from "./Sql/Sql.js"
import { Users } from "./Users/Users.js"
import { Villages } from "./Villages/Villages.js"
import { Webhooks } from "./Webhooks/Webhooks.js"
import { WebhookWorkerLive } from "./Webhooks/Worker.js"

const BootstrapLive = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* AppConfig
    const auth = yield* Auth
    yield* auth.bootstrap(config.bootstrapToken)
  })
)

/** The services the routes share, provided outside `serve`. */
export const ServicesLive = Layer.mergeAll(
  Auth.Default,
  Bugs.Default,
  Villages.Default,
  Users.Default,
  Agents.Default,
  AgentWork.Default,
  AgentSessions.Default,
  Webhooks.Default,
  EventHub.Default,
  Rooms.Default,
  WsFanout.Default,
  Shutdown.Default
)

const DatabaseLive = MigrationsLive.pipe(Layer.provideMerge(SqlLive))

/** The whole service: database (migrated), bootstrap, background workers and the HTTP server. */
export const ServerLive = HttpLive.pipe(
  Layer.provide(BootstrapLive),
  Layer.provide(LeaseSweeperLive),
  Layer.provide(RelayLive),
  Layer.provide(WebhookWorkerLive),
  Layer.provide(ServicesLive),
  Layer.provide(DatabaseLive),
  Layer.provide(LoggingLive),
  Layer.provideMerge(AppConfig.Default)
)
