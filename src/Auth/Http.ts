import { Effect, Layer, Redacted } from "effect"
import { Auth } from "./Auth.js"
import { Authentication } from "./Middleware.js"

export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.gen(function* () {
    const auth = yield* Auth
    return { bearer: (token) => auth.authenticate(Redacted.value(token)) }
  })
)
