import { RpcSerialization, RpcServer } from "@effect/rpc"
import { Effect, Layer } from "effect"
import { randomUUID } from "node:crypto"
import { Auth } from "../Auth/Auth.js"
import { CurrentPrincipal } from "../Auth/Principal.js"
import { correlationId, withCorrelationId } from "../Correlation.js"
import { RpcHandlersLive } from "./Handlers.js"
import { BugbotsRpcs, RpcAuthentication } from "./Rpcs.js"

export const rpcPath = "/rpc"

const bearer = (authorization: string | undefined) => /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1] ?? ""

/**
 * Authenticates every call with the bearer token of its headers (for WebSocket: the handshake's,
 * which each call inherits). The call's correlation id is its own `x-request-id` header, else the
 * HTTP request's, else a new one.
 */
export const RpcAuthenticationLive = Layer.effect(
  RpcAuthentication,
  Effect.gen(function* () {
    const auth = yield* Auth
    return RpcAuthentication.of(({ headers, next }) =>
      Effect.gen(function* () {
        const requestId = headers["x-request-id"] ?? (yield* correlationId) ?? randomUUID()
        return yield* auth.authenticate(bearer(headers.authorization)).pipe(
          Effect.flatMap((principal) => Effect.provideService(next, CurrentPrincipal, principal)),
          withCorrelationId(requestId)
        )
      })
    )
  })
)

/**
 * `/rpc` on the service's port: `POST /rpc` is the HTTP transport (NDJSON), `GET /rpc` upgrades to
 * the WebSocket transport (JSON frames). Same group, handlers and middleware for both.
 */
export const RpcRoutes = Layer.mergeAll(
  RpcServer.layerHttpRouter({ group: BugbotsRpcs, path: rpcPath, protocol: "http" }).pipe(Layer.provide(RpcSerialization.layerNdjson)),
  RpcServer.layerHttpRouter({ group: BugbotsRpcs, path: rpcPath, protocol: "websocket" }).pipe(Layer.provide(RpcSerialization.layerJson))
).pipe(Layer.provide(RpcHandlersLive), Layer.provide(RpcAuthenticationLive))
