import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Schema } from "effect"
import { RateLimited, ServiceUnavailable, Unauthenticated } from "../Domain/Errors.js"
import { CurrentPrincipal } from "./Principal.js"

/**
 * REST authentication: `Authorization: Bearer <token>` → the `CurrentPrincipal` of the request; a
 * mutating request (POST, PUT, PATCH, DELETE) also counts against its principal's rate limit.
 */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("bugbots/Authentication", {
  failure: Schema.Union(Unauthenticated, ServiceUnavailable, RateLimited),
  provides: CurrentPrincipal,
  security: { bearer: HttpApiSecurity.bearer }
}) {}
