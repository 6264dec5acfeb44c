import { HttpLayerRouter, HttpServerRequest, Socket } from "@effect/platform"
import { RpcSerialization, RpcServer } from "@effect/rpc"
import { Effect, Layer } from "effect"
import { randomUUID } from "node:crypto"
import { Auth } from "../Auth/Auth.js"
import { AppConfig } from "../Config.js"
import { withinLimit } from "../Http/Body.js"
import { errorResponse } from "../Http/Envelope.js"
import { bearerToken } from "../Auth/Bearer.js"
import { CurrentPrincipal } from "../Auth/Principal.js"
import { correlationId, withCorrelationId } from "../Correlation.js"
import { Shutdown } from "../Shutdown.js"
import { RpcHandlersLive } from "./Handlers.js"
import { BugbotsRpcs, RpcAuthentication } from "./Rpcs.js"

export const rpcPath = "/rpc"

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
        return yield* auth.authenticate(bearerToken(headers.authorization) ?? "").pipe(
          Effect.flatMap((principal) => Effect.provideService(next, CurrentPrincipal, principal)),
          withCorrelationId(requestId)
        )
      })
    )
  })
)

const goingAway = new Socket.CloseEvent(1001, "server shutting down")

/**
 * @effect/rpc upgrades its WebSockets inside its own route, and closes them with 1011 when their
 * request is interrupted. The upgrade is wrapped instead: each socket is closed with 1001 (going
 * away) as soon as the service starts stopping, and its RPC connection ends as a normal close.
 */
const CloseOnShutdown = HttpLayerRouter.middleware(
  Effect.gen(function* () {
    const shutdown = yield* Shutdown
    const closeOnShutdown = (socket: Socket.Socket) =>
      Effect.flatMap(socket.writer, (write) =>
        shutdown.started.pipe(Effect.zipRight(write(goingAway)), Effect.ignore, Effect.forkScoped)
      )
    return (app) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        Effect.provideService(
          app,
          HttpServerRequest.HttpServerRequest,
          Object.create(request, { upgrade: { value: Effect.tap(request.upgrade, closeOnShutdown) } }) as HttpServerRequest.HttpServerRequest
        )
      )
  })
)

/** RPC bodies are bounded like JSON bodies, by `BUGBOTS_MAX_BODY_BYTES` (413 above it). */
const BodyLimit = HttpLayerRouter.middleware(
  Effect.gen(function* () {
    const config = yield* AppConfig
    return (app) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        withinLimit(request, config.maxBodyBytes).pipe(
          Effect.zipRight(app),
          Effect.catchTag("BodyTooLarge", () =>
            Effect.map(correlationId, (requestId) =>
              errorResponse(413, { code: "PAYLOAD_TOO_LARGE", message: `the body exceeds ${config.maxBodyBytes} bytes` }, requestId ?? "")
            )
          )
        )
      )
  })
)

/**
 * `/rpc` on the service's port: `POST /rpc` is the HTTP transport (NDJSON), `GET /rpc` upgrades to
 * the WebSocket transport (JSON frames). Same group, handlers and middleware for both.
 */
export const RpcRoutes = Layer.mergeAll(
  RpcServer.layerHttpRouter({ group: BugbotsRpcs, path: rpcPath, protocol: "http" }).pipe(
    Layer.provide(RpcSerialization.layerNdjson),
    Layer.provide(BodyLimit.layer)
  ),
  RpcServer.layerHttpRouter({ group: BugbotsRpcs, path: rpcPath, protocol: "websocket" }).pipe(
    Layer.provide(RpcSerialization.layerJson),
    Layer.provide(CloseOnShutdown.layer)
  )
).pipe(Layer.provide(RpcHandlersLive), Layer.provide(RpcAuthenticationLive))
