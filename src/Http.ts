import { HttpApiScalar, HttpLayerRouter } from "@effect/platform"
import { BunHttpServer } from "@effect/platform-bun"
import { Effect, Layer } from "effect"
import { AgentsHttp } from "./Agents/Http.js"
import { AgentSessionsHttp } from "./AgentSessions/Http.js"
import { AgentWorkHttp } from "./AgentWork/Http.js"
import { Api } from "./Api.js"
import { AuthenticationLive } from "./Auth/Http.js"
import { BugsHttp } from "./Bugs/Http.js"
import { AppConfig } from "./Config.js"
import { HealthHttp } from "./Health/Http.js"
import { RequestMiddleware } from "./Http/Envelope.js"
import { GracefulServerLive } from "./Http/GracefulServer.js"
import { JsonBodyLive } from "./Http/JsonBody.js"
import { WsRoute } from "./Realtime/Ws.js"
import { RpcRoutes } from "./Rpc/Server.js"
import { UsersHttp } from "./Users/Http.js"
import { VillagesHttp } from "./Villages/Http.js"
import { ReportIngestHttp, ReportsHttp } from "./Reports/Http.js"
import { SentryRoutes } from "./Reports/Sentry.js"
import { WebhookAdminHttp, WebhooksHttp } from "./Webhooks/Http.js"
import { BotActionAdminHttp, BotActionInternalHttp } from "./BotActions/Http.js"
import { ReconcileHttp } from "./Reconciler/Http.js"
import { GateHttp } from "./Gate/Http.js"
import { GitHubAppStatusHttp } from "./Villages/Http.js"
import { MetricsRoute, RouteTemplate } from "./Metrics/Http.js"
import { StatusHttp } from "./Status/Http.js"
import { StatsHttp } from "./Stats/Http.js"
import { DashboardRoutes } from "./Dashboard/Route.js"
import { AnalysesHttp } from "./Analyses/Http.js"
import { NotificationAdminHttp, NotificationChannelsHttp } from "./Notifications/Http.js"

const ApiRoutes = HttpLayerRouter.addHttpApi(Api, { openapiPath: "/openapi.json" }).pipe(
  Layer.provide([HealthHttp, UsersHttp, VillagesHttp, AgentsHttp, BugsHttp, AgentWorkHttp, AgentSessionsHttp, WebhooksHttp, WebhookAdminHttp, ReportsHttp, ReportIngestHttp, BotActionAdminHttp, BotActionInternalHttp, GateHttp, GitHubAppStatusHttp, ReconcileHttp, StatusHttp, StatsHttp, AnalysesHttp, NotificationChannelsHttp, NotificationAdminHttp]),
  Layer.provide([AuthenticationLive, JsonBodyLive])
)

const DocsRoute = HttpApiScalar.layerHttpLayerRouter({ api: Api, path: "/docs" })

export const Routes = Layer.mergeAll(ApiRoutes, DocsRoute, WsRoute, RpcRoutes, SentryRoutes, MetricsRoute, DashboardRoutes).pipe(
  Layer.provide(RouteTemplate),
  Layer.provide(RequestMiddleware)
)

/** REST, docs, `/ws` and `/rpc` on one Bun server (contract §1: one port for all), drained on shutdown. */
export const HttpLive = HttpLayerRouter.serve(Routes, { disableLogger: true }).pipe(
  Layer.provide(GracefulServerLive),
  Layer.provideMerge(
    Layer.unwrapEffect(
      Effect.map(AppConfig, (config) =>
        // Bodies are bounded by RequestMiddleware (413 in the envelope); Bun's own bound would answer a bare 413 first.
        BunHttpServer.layer({ port: config.port, hostname: config.host, maxRequestBodySize: Number.MAX_SAFE_INTEGER })
      )
    )
  )
)
