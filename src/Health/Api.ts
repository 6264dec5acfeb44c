import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { ServiceUnavailable } from "../Domain/Errors.js"

export const Health = Schema.Struct({ status: Schema.Literal("ok") })

/** Contract §2: liveness and readiness, without auth. */
export class HealthApi extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("healthz", "/healthz").addSuccess(Health))
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Schema.Struct({ status: Schema.Literal("ok"), database: Schema.Literal("ok"), migrations: Schema.Literal("ok") }))
      .addError(ServiceUnavailable)
  ) {}
