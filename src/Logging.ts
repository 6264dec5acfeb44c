import { Effect, Layer, Logger, Option } from "effect"
import { AppConfig } from "./Config.js"
import { withCorrelationIds } from "./Correlation.js"
import { withTraceIds } from "./Tracing.js"

/**
 * `LOG_FORMAT` (json | pretty) and `LOG_LEVEL`; annotations (correlation_id) go with every line, and
 * the trace and span ids of the current span when traces are exported.
 */
export const LoggingLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => {
    const traced = Option.isSome(config.otlpEndpoint)
    const annotated = <M, O>(logger: Logger.Logger<M, O>) => withCorrelationIds(traced ? withTraceIds(logger) : logger)
    const logger = config.logFormat === "json"
      ? Logger.replace(Logger.defaultLogger, Logger.withConsoleLog(annotated(Logger.jsonLogger)))
      : Logger.replace(Logger.defaultLogger, annotated(Logger.prettyLogger()))
    return Layer.merge(logger, Logger.minimumLogLevel(config.logLevel))
  })
)
