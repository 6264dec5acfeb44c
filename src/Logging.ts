import { Effect, Layer, Logger } from "effect"
import { AppConfig } from "./Config.js"

/** `LOG_FORMAT` (json | pretty) and `LOG_LEVEL`; annotations (correlation_id) go with every line. */
export const LoggingLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Layer.merge(config.logFormat === "json" ? Logger.json : Logger.pretty, Logger.minimumLogLevel(config.logLevel))
  )
)
