import { HttpApiMiddleware, HttpServerRequest } from "@effect/platform"
import { Effect, Layer, Schema } from "effect"
import { AppConfig } from "../Config.js"
import { PayloadTooLarge, UnsupportedMediaType } from "../Domain/Errors.js"
import { hasBody, withBody, withinLimit } from "./Body.js"

const isJson = (request: HttpServerRequest.HttpServerRequest) => /^application\/([a-z.+-]*\+)?json\b/i.test(request.headers["content-type"] ?? "")

const emptyObject = new TextEncoder().encode("{}")

/**
 * The media type of the JSON groups, declared by each group that has it (routes of other media
 * types — webhooks, RPC, error reports — simply do not use it): a body must be JSON (else 415), and
 * no body at all reads as `{}`, so an endpoint whose fields are all optional (`POST
 * /api/agents/claim`) may be called bare.
 */
export class JsonBody extends HttpApiMiddleware.Tag<JsonBody>()("bugbots/JsonBody", {
  failure: Schema.Union(UnsupportedMediaType, PayloadTooLarge),
  provides: HttpServerRequest.HttpServerRequest
}) {}

/** JSON bodies are bounded by `BUGBOTS_MAX_BODY_BYTES` (413 above it). */
export const JsonBodyLive = Layer.effect(
  JsonBody,
  Effect.map(AppConfig, (config) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request): Effect.Effect<HttpServerRequest.HttpServerRequest, UnsupportedMediaType | PayloadTooLarge> => {
      if (request.method !== "POST" && request.method !== "PUT" && request.method !== "PATCH") return Effect.succeed(request)
      if (!hasBody(request)) return Effect.succeed(withBody(request, emptyObject))
      if (!isJson(request)) return Effect.fail(new UnsupportedMediaType({ message: "send JSON (content-type: application/json)" }))
      return withinLimit(request, config.maxBodyBytes).pipe(
        Effect.as(request),
        Effect.mapError(() => new PayloadTooLarge({ message: `the body exceeds ${config.maxBodyBytes} bytes` }))
      )
    })
  )
)
