import { Effect, Layer, Logger, Option } from "effect"
import { AppConfig } from "./Config.js"
import { withTraceIds } from "./Tracing.js"

/**
 * `LOG_FORMAT` (json | pretty) and `LOG_LEVEL`; annotations (correlation_id) go with every line, and
 * the trace and span ids of the current span when traces are exported.
 */
export const LoggingLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => {
    const traced = Option.isSome(config.otlpEndpoint)
    const logger = config.logFormat === "json"
      ? traced ? Logger.replace(Logger.defaultLogger, Logger.withConsoleLog(withTraceIds(Logger.jsonLogger))) : Logger.json
      : traced ? Logger.replace(Logger.defaultLogger, withTraceIds(Logger.prettyLogger())) : Logger.pretty
    return Layer.merge(logger, Logger.minimumLogLevel(config.logLevel))
  })
)
