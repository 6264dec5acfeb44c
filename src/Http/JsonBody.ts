import { HttpApiMiddleware, HttpServerRequest } from "@effect/platform"
import { Effect, Layer } from "effect"
import { UnsupportedMediaType } from "../Domain/Errors.js"
import { hasBody, withBody } from "./Body.js"

const isJson = (request: HttpServerRequest.HttpServerRequest) => /^application\/([a-z.+-]*\+)?json\b/i.test(request.headers["content-type"] ?? "")

const emptyObject = new TextEncoder().encode("{}")

/**
 * The media type of the JSON groups, declared by each group that has it (routes of other media
 * types — webhooks, RPC, error reports — simply do not use it): a body must be JSON (else 415), and
 * no body at all reads as `{}`, so an endpoint whose fields are all optional (`POST
 * /api/agents/claim`) may be called bare.
 */
export class JsonBody extends HttpApiMiddleware.Tag<JsonBody>()("bugbots/JsonBody", {
  failure: UnsupportedMediaType,
  provides: HttpServerRequest.HttpServerRequest
}) {}

export const JsonBodyLive = Layer.succeed(
  JsonBody,
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    if (request.method !== "POST" && request.method !== "PUT" && request.method !== "PATCH") return Effect.succeed(request)
    if (!hasBody(request)) return Effect.succeed(withBody(request, emptyObject))
    return isJson(request)
      ? Effect.succeed(request)
      : Effect.fail(new UnsupportedMediaType({ message: "send JSON (content-type: application/json)" }))
  })
)
