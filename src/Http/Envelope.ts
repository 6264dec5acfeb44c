import { HttpLayerRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Duration, Effect, Equal, LogLevel } from "effect"
import { randomUUID } from "node:crypto"
import { AppConfig } from "../Config.js"
import { withCorrelationId } from "../Correlation.js"
import { retryAfter } from "../Sql/Retry.js"
import { maxEnvelopeBytes } from "../Reports/Limits.js"
import { CurrentRouteSlot, recordRequest, unmatchedRoute } from "../Metrics/Series.js"
import { boundedBody } from "./Body.js"
import { codeOf } from "./ErrorEnvelope.js"

export interface ErrorBody {
  readonly code: string
  readonly message: string
  readonly details?: unknown
}

/** How long to wait before retrying: a rate limit says it in its details, an outage's is `retryAfter`. */
const retryAfterOf = (status: number, details: unknown) => {
  if (status !== 503 && status !== 429) return undefined
  const seconds = (details as { retry_after_seconds?: unknown } | undefined)?.retry_after_seconds
  return String(typeof seconds === "number" && seconds > 0 ? seconds : Duration.toSeconds(retryAfter))
}

export const errorResponse = (status: number, body: ErrorBody, requestId: string) => {
  const wait = retryAfterOf(status, body.details)
  return HttpServerResponse.unsafeJson(
    { error: { code: body.code, message: body.message, request_id: requestId, ...(body.details === undefined ? {} : { details: body.details }) } },
    { status, headers: wait === undefined ? {} : { "retry-after": wait } }
  )
}

const statusMessages: Record<number, ErrorBody> = {
  400: { code: "BAD_REQUEST", message: "the request is malformed" },
  404: { code: "NOT_FOUND", message: "no such route" },
  405: { code: "METHOD_NOT_ALLOWED", message: "method not allowed" },
  413: { code: "PAYLOAD_TOO_LARGE", message: "the request body is too large" }
}

/** The decoder's issues in one line, each naming its field: `title: Expected a string at most 500 character(s) long`. */
const describeIssues = (issues: ReadonlyArray<unknown>) =>
  issues
    .slice(0, 5)
    .map((issue) => {
      const { path, message } = issue as { path?: ReadonlyArray<unknown>; message?: unknown }
      const where = Array.isArray(path) && path.length > 0 ? path.join(".") : "request"
      return `${where}: ${String(message)}`
    })
    .join("; ")

/** Reads what an error response says, whatever produced it (a domain error, the decoder, the router). */
const bodyOf = (response: HttpServerResponse.HttpServerResponse): ErrorBody => {
  const fallback = statusMessages[response.status] ?? { code: response.status >= 500 ? "INTERNAL" : "ERROR", message: "request failed" }
  if (response.body._tag !== "Uint8Array") return fallback
  try {
    const json = JSON.parse(new TextDecoder().decode(response.body.body)) as Record<string, unknown>
    if (typeof json._tag !== "string") return fallback
    const { _tag, message, details, issues } = json as { _tag: string; message?: unknown; details?: unknown; issues?: unknown }
    const described = Array.isArray(issues) && issues.length > 0 ? describeIssues(issues) : message
    return {
      code: codeOf(_tag),
      message: typeof described === "string" && described.length > 0 ? described : fallback.message,
      details: details ?? issues
    }
  } catch {
    return fallback
  }
}

/** A response a route already answered in the envelope (with its own headers, such as a rate limit's). */
const enveloped = (response: HttpServerResponse.HttpServerResponse) =>
  response.body._tag === "Uint8Array" && response.body.body.byteLength > 9 &&
  new TextDecoder().decode(response.body.body.subarray(0, 9)) === '{"error":'

/** Every error response in the contract's envelope, whatever produced it. */
const envelope = (response: HttpServerResponse.HttpServerResponse, requestId: string) =>
  response.status >= 400 && !enveloped(response) ? errorResponse(response.status, bodyOf(response), requestId) : response

const abortedByClient = (cause: Cause.Cause<unknown>) =>
  Array.from(Cause.interruptors(cause)).every((id) => Equal.equals(id, HttpServerError.clientAbortFiberId))

/** Browsers pass the WebSocket token as `?token=`: it must not reach the logs. */
const redactToken = (url: string) => url.replace(/([?&]token=)[^&]*/g, "$1[redacted]")

/**
 * The outermost middleware of every route: request id (echoed or made) on the response, in the logs
 * and on emitted events; the body limit (413, whatever the route); and the error envelope. A route's
 * media type is its own (JSON groups use `JsonBody`).
 */
export const RequestMiddleware = HttpLayerRouter.middleware(
  Effect.gen(function* () {
    const config = yield* AppConfig
    // The largest body any route takes (a Sentry envelope's); each route holds its own limit below it.
    const maxBody = Math.max(config.maxBodyBytes, maxEnvelopeBytes)
    const respond = <E, R>(
      app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
      request: HttpServerRequest.HttpServerRequest,
      requestId: string
    ) => {
      return boundedBody(request, maxBody).pipe(
        Effect.flatMap((bounded) => Effect.provideService(app, HttpServerRequest.HttpServerRequest, bounded)),
        Effect.map((response) => envelope(response, requestId)),
        Effect.catchTag("BodyTooLarge", () =>
          Effect.succeed(errorResponse(413, { code: "PAYLOAD_TOO_LARGE", message: `the body exceeds ${maxBody} bytes` }, requestId))
        ),
        Effect.catchAllCause((cause) => {
          if (Cause.isInterruptedOnly(cause)) {
            // A client that went away (an aborted request) is not a failure of ours, and reads no answer.
            if (abortedByClient(cause)) return Effect.succeed(errorResponse(499, { code: "CLIENT_CLOSED_REQUEST", message: "the client went away" }, requestId))
            // Anything else that interrupts a request is the server stopping (the end of the shutdown grace).
            return Effect.succeed(errorResponse(503, { code: "SERVICE_UNAVAILABLE", message: "the service is shutting down; retry" }, requestId))
          }
          // The router fails with RouteNotFound; a body that is not JSON surfaces as a RequestError defect.
          const error = Cause.squash(cause)
          if (error instanceof HttpServerError.RouteNotFound) {
            return Effect.succeed(errorResponse(404, statusMessages[404], requestId))
          }
          if (error instanceof HttpServerError.RequestError && error.reason === "Decode") {
            return Effect.succeed(errorResponse(400, { code: "BAD_REQUEST", message: "the body is not valid JSON" }, requestId))
          }
          return Effect.logError("request failed", cause).pipe(
                Effect.as(errorResponse(500, { code: "INTERNAL", message: "internal error" }, requestId))
              )
        })
      )
    }
    const metered = config.metrics === "on"
    // The request's log line is built only when it would be written (its annotations cost a request more than the rest of the log).
    const logsRequests = LogLevel.lessThanEqual(config.logLevel, LogLevel.Info)
    return (app) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const requestId = request.headers["x-request-id"] || randomUUID()
        const started = performance.now()
        // The router writes the matched route's template here (Metrics/Http.ts RouteTemplate).
        const slot = metered ? { route: unmatchedRoute } : null
        const answered = respond(app, request, requestId)
        const handled = withCorrelationId(requestId)(
          logsRequests
            ? Effect.tap(answered, (response) =>
              Effect.logInfo("http request").pipe(
                Effect.annotateLogs({
                  method: request.method,
                  url: redactToken(request.url),
                  status: response.status,
                  ms: Math.round(performance.now() - started)
                })
              ))
            : answered
        )
        const response = yield* (slot === null ? handled : Effect.locally(handled, CurrentRouteSlot, slot))
        if (slot !== null) recordRequest(request.method, slot.route, response.status, (performance.now() - started) / 1000)
        return HttpServerResponse.setHeader(response, "x-request-id", requestId)
        // Every failure is answered above; the marker type only tells the router so.
      }) as Effect.Effect<HttpServerResponse.HttpServerResponse, HttpLayerRouter.unhandled, HttpServerRequest.HttpServerRequest>
  }),
  { global: true }
)
