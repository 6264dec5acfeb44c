import { HttpLayerRouter, HttpRouter, HttpServerResponse } from "@effect/platform"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { bearerToken } from "../Auth/Bearer.js"
import { AppConfig } from "../Config.js"
import { Metrics } from "./Metrics.js"
import { CurrentRouteSlot } from "./Series.js"

const sha256 = (value: string) => createHash("sha256").update(value).digest()

/**
 * `GET /metrics` (contract §12) in the Prometheus text format; with `BUGBOTS_METRICS_TOKEN` set it
 * needs that bearer token (compared in constant time, as digests of equal length). Absent when
 * `BUGBOTS_METRICS=off`.
 */
export const MetricsRoute = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* AppConfig
    if (config.metrics === "off") return Layer.empty
    const metrics = yield* Metrics
    const expected = Option.map(config.metricsToken, (token) => sha256(Redacted.value(token)))
    const allowed = (authorization: string | undefined) =>
      Option.match(expected, {
        onNone: () => true,
        onSome: (digest) => timingSafeEqual(digest, sha256(bearerToken(authorization) ?? ""))
      })
    return HttpLayerRouter.add("GET", "/metrics", (request) =>
      allowed(request.headers.authorization)
        ? Effect.map(metrics.render, (text) => HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
        : Effect.succeed(
            HttpServerResponse.unsafeJson({ _tag: "Unauthenticated", message: "GET /metrics needs the bearer token BUGBOTS_METRICS_TOKEN" }, { status: 401 })
          )
    )
  })
)

/**
 * Inside the router, where the matched route is known: hands its template (`/api/bugs/:id`) to the
 * request middleware, which labels the HTTP series with it.
 */
export const RouteTemplate = HttpLayerRouter.middleware((app) =>
  Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse, HttpLayerRouter.unhandled>((fiber) => {
    const slot = fiber.getFiberRef(CurrentRouteSlot)
    if (slot !== null) {
      const route = Context.getOption(fiber.currentContext, HttpRouter.RouteContext)
      if (Option.isSome(route)) slot.route = route.value.route.path
    }
    return app
  })
).layer
