import { HttpApi, OpenApi } from "@effect/platform"
import { AgentsApi } from "./Agents/Api.js"
import { apiDescription } from "./ApiDescription.js"
import { AgentSessionsApi } from "./AgentSessions/Api.js"
import { AgentWorkApi } from "./AgentWork/Api.js"
import { BugsApi } from "./Bugs/Api.js"
import { ServiceUnavailable } from "./Domain/Errors.js"
import { HealthApi } from "./Health/Api.js"
import { envelopeOpenApi } from "./Http/ErrorEnvelope.js"
import { UsersApi } from "./Users/Api.js"
import { VillagesApi } from "./Villages/Api.js"
import { ReportIngestApi, ReportsApi } from "./Reports/Api.js"
import { WebhookAdminApi, WebhooksApi } from "./Webhooks/Api.js"
import { BotActionAdminApi, BotActionInternalApi } from "./BotActions/Api.js"
import { ReconcileApi } from "./Reconciler/Api.js"
import { GateApi } from "./Gate/Api.js"
import { GitHubAppStatusApi } from "./Villages/Api.js"
import { StatusApi } from "./Status/Api.js"
import { StatsApi } from "./Stats/Api.js"
import { AnalysesApi } from "./Analyses/Api.js"
import { NotificationAdminApi, NotificationChannelsApi } from "./Notifications/Api.js"

/** The REST surface (contract §2–4, §6–7); `/openapi.json` is generated from it. */
export class Api extends HttpApi.make("bugbots")
  .add(HealthApi)
  .add(UsersApi)
  .add(VillagesApi)
  .add(AgentsApi)
  .add(BugsApi)
  .add(AgentWorkApi)
  .add(AgentSessionsApi)
  .add(WebhooksApi)
  .add(WebhookAdminApi)
  .add(ReportsApi)
  .add(ReportIngestApi)
  .add(BotActionAdminApi)
  .add(BotActionInternalApi)
  .add(ReconcileApi)
  .add(GateApi)
  .add(GitHubAppStatusApi)
  .add(StatusApi)
  .add(StatsApi)
  .add(AnalysesApi)
  .add(NotificationChannelsApi)
  .add(NotificationAdminApi)
  .addError(ServiceUnavailable)
  .annotate(OpenApi.Title, "bugbots")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(OpenApi.Description, apiDescription)
  .annotate(OpenApi.Transform, envelopeOpenApi) {}
