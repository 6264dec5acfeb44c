import { HttpLayerRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Duration, Effect, Equal } from "effect"
import { randomUUID } from "node:crypto"
import { AppConfig } from "../Config.js"
import { withCorrelationId } from "../Correlation.js"
import { retryAfter } from "../Sql/Retry.js"

export interface ErrorBody {
  readonly code: string
  readonly message: string
  readonly details?: unknown
}

/** `VersionConflict` → `VERSION_CONFLICT`; the decoder's own error is `VALIDATION_FAILED`. */
export const codeOf = (tag: string) =>
  tag === "HttpApiDecodeError" || tag === "ParseError" ? "VALIDATION_FAILED" : tag.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()

export const errorResponse = (status: number, body: ErrorBody, requestId: string) =>
  HttpServerResponse.unsafeJson(
    { error: { code: body.code, message: body.message, request_id: requestId, ...(body.details === undefined ? {} : { details: body.details }) } },
    { status, headers: status === 503 || status === 429 ? { "retry-after": String(Duration.toSeconds(retryAfter)) } : {} }
  )

const statusMessages: Record<number, ErrorBody> = {
  400: { code: "BAD_REQUEST", message: "the request is malformed" },
  404: { code: "NOT_FOUND", message: "no such route" },
  405: { code: "METHOD_NOT_ALLOWED", message: "method not allowed" },
  413: { code: "PAYLOAD_TOO_LARGE", message: "the request body is too large" }
}

/** Reads what an error response says, whatever produced it (a domain error, the decoder, the router). */
const bodyOf = (response: HttpServerResponse.HttpServerResponse): ErrorBody => {
  const fallback = statusMessages[response.status] ?? { code: response.status >= 500 ? "INTERNAL" : "ERROR", message: "request failed" }
  if (response.body._tag !== "Uint8Array") return fallback
  try {
    const json = JSON.parse(new TextDecoder().decode(response.body.body)) as Record<string, unknown>
    if (typeof json._tag !== "string") return fallback
    const { _tag, message, details, issues } = json as { _tag: string; message?: unknown; details?: unknown; issues?: unknown }
    return {
      code: codeOf(_tag),
      message: typeof message === "string" && message.length > 0 ? message : fallback.message,
      details: details ?? issues
    }
  } catch {
    return fallback
  }
}

/** Every error response in the contract's envelope, whatever produced it. */
const envelope = (response: HttpServerResponse.HttpServerResponse, requestId: string) =>
  response.status >= 400 ? errorResponse(response.status, bodyOf(response), requestId) : response

const abortedByClient = (cause: Cause.Cause<unknown>) =>
  Array.from(Cause.interruptors(cause)).every((id) => Equal.equals(id, HttpServerError.clientAbortFiberId))

const hasJsonBody = (request: HttpServerRequest.HttpServerRequest) =>
  /^application\/([a-z.+-]*\+)?json\b/i.test(request.headers["content-type"] ?? "")

/**
 * A JSON endpoint whose fields are all optional (`POST /api/agents/claim`) may be called with no
 * body at all: it reads as `{}` instead of failing to parse.
 */
const emptyBodyAsEmptyObject = (request: HttpServerRequest.HttpServerRequest): HttpServerRequest.HttpServerRequest => {
  const empty =
    (request.method === "POST" || request.method === "PUT" || request.method === "PATCH") &&
    (request.headers["content-length"] === "0" || (request.headers["content-length"] === undefined && request.headers["transfer-encoding"] === undefined))
  if (!empty || ownMediaType(request.url)) return request
  return Object.create(request, {
    json: { value: Effect.succeed({}) },
    text: { value: Effect.succeed("{}") }
  }) as HttpServerRequest.HttpServerRequest
}

/** Browsers pass the WebSocket token as `?token=`: it must not reach the logs. */
const redactToken = (url: string) => url.replace(/([?&]token=)[^&]*/g, "$1[redacted]")

/** Paths whose bodies follow another media type than JSON (webhooks verify raw bytes; RPC frames). */
const ownMediaType = (url: string) => url.startsWith("/api/webhooks/") || url.startsWith("/rpc")

/**
 * The outermost middleware of every route: request id (echoed or made) on the response, in the logs
 * and on emitted events; the body limit (413) and media type (415); and the error envelope.
 */
export const RequestMiddleware = HttpLayerRouter.middleware(
  Effect.gen(function* () {
    const config = yield* AppConfig
    const respond = <E, R>(
      app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
      request: HttpServerRequest.HttpServerRequest,
      requestId: string
    ) => {
      const length = Number(request.headers["content-length"] ?? 0)
      const withBody = request.method === "POST" || request.method === "PUT" || request.method === "PATCH"
      if (length > config.maxBodyBytes) {
        return Effect.succeed(
          errorResponse(413, { code: "PAYLOAD_TOO_LARGE", message: `the body exceeds ${config.maxBodyBytes} bytes` }, requestId)
        )
      }
      if (withBody && length > 0 && !hasJsonBody(request) && !ownMediaType(request.url)) {
        return Effect.succeed(
          errorResponse(415, { code: "UNSUPPORTED_MEDIA_TYPE", message: "send JSON (content-type: application/json)" }, requestId)
        )
      }
      return app.pipe(
        Effect.map((response) => envelope(response, requestId)),
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
    return (app) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const requestId = request.headers["x-request-id"] || randomUUID()
        const started = Date.now()
        const response = yield* respond(app.pipe(Effect.provideService(HttpServerRequest.HttpServerRequest, emptyBodyAsEmptyObject(request))), request, requestId).pipe(
          Effect.tap((response) =>
            Effect.logInfo("http request").pipe(
              Effect.annotateLogs({ method: request.method, url: redactToken(request.url), status: response.status, ms: Date.now() - started })
            )
          ),
          withCorrelationId(requestId)
        )
        return HttpServerResponse.setHeader(response, "x-request-id", requestId)
        // Every failure is answered above; the marker type only tells the router so.
      }) as Effect.Effect<HttpServerResponse.HttpServerResponse, HttpLayerRouter.unhandled, HttpServerRequest.HttpServerRequest>
  }),
  { global: true }
)

const ErrorEnvelopeSchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "request_id"],
      properties: {
        code: { type: "string", description: "UPPER_SNAKE_CODE, e.g. NOT_FOUND, VERSION_CONFLICT, INVALID_TRANSITION, VALIDATION_FAILED" },
        message: { type: "string" },
        request_id: { type: "string", description: "the x-request-id of the request" },
        details: { description: "optional; for VALIDATION_FAILED the decoder's issues" }
      }
    }
  }
}

/**
 * The generated document describes errors by their tagged schemas; on the wire every error is the
 * envelope, so every 4xx/5xx response is rewritten to say so (the tag's name gives the code).
 */
export const envelopeOpenApi = (spec: Record<string, any>) => {
  for (const item of Object.values<Record<string, any>>(spec.paths ?? {})) {
    for (const operation of Object.values<Record<string, any>>(item)) {
      for (const [status, response] of Object.entries<Record<string, any>>(operation?.responses ?? {})) {
        if (Number(status) < 400) continue
        response.content = { "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" } } }
      }
    }
  }
  spec.components = { ...spec.components, schemas: { ...spec.components?.schemas, ErrorEnvelope: ErrorEnvelopeSchema } }
  return spec
}
