import { HttpLayerRouter, HttpServerRequest, Socket } from "@effect/platform"
import { RpcSerialization, RpcServer } from "@effect/rpc"
import { Duration, Effect, Layer, Option } from "effect"
import { randomUUID } from "node:crypto"
import { Auth } from "../Auth/Auth.js"
import { AppConfig } from "../Config.js"
import { withinLimit } from "../Http/Body.js"
import { errorResponse } from "../Http/Envelope.js"
import { bearerToken } from "../Auth/Bearer.js"
import { CurrentPrincipal, type Principal } from "../Auth/Principal.js"
import { RateLimited } from "../Domain/Errors.js"
import { RateLimits } from "../RateLimits/RateLimits.js"
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
    const limits = yield* RateLimits
    /** Every call but these reads changes something, and counts against the principal's rate limit (contract §12). */
    const reads = new Set(["ListBugs", "GetBug", "WatchRoom"])
    const withinRateLimit = (principal: Principal, rpc: string) =>
      reads.has(rpc)
        ? Effect.void
        : limits.principal(principal.id).pipe(
            Effect.flatMap(
              Option.match({
                onNone: () => Effect.void,
                onSome: (limited) =>
                  Effect.fail(
                    new RateLimited({
                      message: "too many changes: this principal sent more mutating requests than BUGBOTS_RATE_LIMIT allows in its window",
                      details: { retry_after_seconds: Math.max(1, Math.ceil(Duration.toSeconds(limited.retryAfter))) }
                    })
                  )
              })
            )
          )
    return RpcAuthentication.of(({ headers, next, rpc }) =>
      Effect.gen(function* () {
        const requestId = headers["x-request-id"] ?? (yield* correlationId) ?? randomUUID()
        return yield* auth.authenticate(bearerToken(headers.authorization) ?? "").pipe(
          Effect.tap((principal) => withinRateLimit(principal, rpc._tag)),
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
