import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import { FetchHttpClient, HttpMiddleware, type HttpServerRequest } from "@effect/platform"
import { Context, Duration, Effect, FiberRef, FiberRefs, HashMap, Layer, Logger, Option, Tracer } from "effect"
import packageJson from "../package.json" with { type: "json" }
import { AppConfig } from "./Config.js"

/** A URL that carries a secret in its query (a browser's WebSocket token, a Sentry key): never put on a span. */
const carriesSecret = (request: HttpServerRequest.HttpServerRequest) => /[?&](token|sentry_key)=/.test(request.url)

/**
 * With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans go there over OTLP/HTTP (JSON, to `<endpoint>/v1/traces`,
 * batched every `OTEL_BSP_SCHEDULE_DELAY` ms) through `@effect/opentelemetry`'s OTLP tracer: a span
 * per request (continuing an incoming `traceparent`) and one per `Effect.fn` call beneath it.
 *
 * With no exporter configured, tracing is off: no spans for `Effect.fn` calls and no span per HTTP
 * request (a URL parse, header copies and random ids each), since nothing would read them.
 */
export const TracingLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Option.match(config.otlpEndpoint, {
      onNone: () =>
        Layer.mergeAll(Layer.setTracerEnabled(false), Layer.locallyScoped(HttpMiddleware.currentTracerDisabledWhen, () => true)),
      onSome: (endpoint) =>
        OtlpTracer.layer({
          url: `${endpoint.replace(/\/+$/, "")}/v1/traces`,
          resource: { serviceName: config.otelServiceName, serviceVersion: packageJson.version },
          exportInterval: Duration.millis(config.otlpExportDelayMs)
        }).pipe(
          Layer.provide([FetchHttpClient.layer, OtlpSerialization.layerJson]),
          Layer.merge(Layer.locallyScoped(HttpMiddleware.currentTracerDisabledWhen, carriesSecret))
        )
    })
  )
)

/** A logger whose lines carry the trace and span ids of the span they are written in (contract §12). */
export const withTraceIds = <Message, Output>(logger: Logger.Logger<Message, Output>) =>
  Logger.mapInputOptions(logger, (options: Logger.Logger.Options<Message>) => {
    const span = Context.getOption(FiberRefs.getOrDefault(options.context, FiberRef.currentContext), Tracer.ParentSpan)
    if (Option.isNone(span)) return options
    const annotations = HashMap.set(HashMap.set(options.annotations, "trace_id", span.value.traceId as unknown), "span_id", span.value.spanId)
    return { ...options, annotations }
  })
