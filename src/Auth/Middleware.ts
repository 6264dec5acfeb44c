import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Effect, Layer, Redacted, Schema } from "effect"
import { ServiceUnavailable, Unauthenticated } from "../Domain/Errors.js"
import { Auth } from "./Auth.js"
import { CurrentPrincipal } from "./Principal.js"

/** REST authentication: `Authorization: Bearer <token>` → the `CurrentPrincipal` of the request. */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("bugbots/Authentication", {
  failure: Schema.Union(Unauthenticated, ServiceUnavailable),
  provides: CurrentPrincipal,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.gen(function* () {
    const auth = yield* Auth
    return { bearer: (token) => auth.authenticate(Redacted.value(token)) }
  })
)
