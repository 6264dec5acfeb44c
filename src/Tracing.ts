import { HttpMiddleware } from "@effect/platform"
import { Effect, Layer, Option } from "effect"
import { AppConfig } from "./Config.js"

/**
 * With no exporter configured, tracing is off: no spans for `Effect.fn` calls and no span per HTTP
 * request (a URL parse, header copies and random ids each), since nothing would read them.
 */
export const TracingLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Option.isSome(config.otlpEndpoint)
      ? Layer.empty
      : Layer.mergeAll(Layer.setTracerEnabled(false), Layer.locallyScoped(HttpMiddleware.currentTracerDisabledWhen, () => true))
  )
)
