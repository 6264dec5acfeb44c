import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Schema } from "effect"
import { ServiceUnavailable, Unauthenticated } from "../Domain/Errors.js"
import { CurrentPrincipal } from "./Principal.js"

/** REST authentication: `Authorization: Bearer <token>` → the `CurrentPrincipal` of the request. */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("bugbots/Authentication", {
  failure: Schema.Union(Unauthenticated, ServiceUnavailable),
  provides: CurrentPrincipal,
  security: { bearer: HttpApiSecurity.bearer }
}) {}
