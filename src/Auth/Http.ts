import { HttpServerRequest } from "@effect/platform"
import { Duration, Effect, Layer, Option, Redacted } from "effect"
import { RateLimited } from "../Domain/Errors.js"
import { RateLimits } from "../RateLimits/RateLimits.js"
import { Auth } from "./Auth.js"
import { Authentication } from "./Middleware.js"

const mutating = new Set(["POST", "PUT", "PATCH", "DELETE"])

export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.gen(function* () {
    const auth = yield* Auth
    const limits = yield* RateLimits
    return {
      bearer: (token) =>
        Effect.gen(function* () {
          const principal = yield* auth.authenticate(Redacted.value(token))
          const request = yield* HttpServerRequest.HttpServerRequest
          if (!mutating.has(request.method)) return principal
          const limited = yield* limits.principal(principal.id)
          if (Option.isNone(limited)) return principal
          const seconds = Math.max(1, Math.ceil(Duration.toSeconds(limited.value.retryAfter)))
          return yield* new RateLimited({
            message: "too many changes: this principal sent more mutating requests than BUGBOTS_RATE_LIMIT allows in its window",
            details: { retry_after_seconds: seconds }
          })
        })
    }
  })
)
