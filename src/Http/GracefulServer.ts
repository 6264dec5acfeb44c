import { HttpServer, HttpServerRequest } from "@effect/platform"
import { Duration, Effect, Layer, Option } from "effect"
import { AppConfig } from "../Config.js"
import { Shutdown } from "../Shutdown.js"
import { bunServerOf } from "./BunServer.js"

/** After the grace, how long the requests answered 503 have to get that answer out before their connections are closed. */
const cutWindow = Duration.seconds(1)

/** Waits for `promise` for at most `limit`. Finalizers run uninterruptibly, where a plain timeout would wait for the promise anyway. */
const awaitAtMost = <A>(promise: () => Promise<A>, limit: Duration.Duration) =>
  Effect.tryPromise(promise).pipe(Effect.interruptible, Effect.timeoutOption(limit))

/**
 * platform-bun's server, stopped gracefully. Its own teardown interrupts every request in flight
 * (the scope of `serve` closes) and only then stops the Bun server, which reset requests and
 * dropped sockets. A drain now runs before that teardown:
 * 1. Bun stops listening (`stop()`: new connections are refused, idle keep-alive ones closed) and
 *    the shutdown begins (`Shutdown`: WebSockets close with 1001, workers release their claims);
 * 2. requests in flight finish, for up to `BUGBOTS_SHUTDOWN_GRACE`;
 * 3. platform-bun interrupts what is left, each answered 503 with retry-after (`Envelope.ts`);
 * 4. after `cutWindow` for those answers, the connections still open are closed.
 */
export const GracefulServerLive = Layer.effect(
  HttpServer.HttpServer,
  Effect.gen(function* () {
    const server = yield* HttpServer.HttpServer
    const shutdown = yield* Shutdown
    const config = yield* AppConfig
    return HttpServer.make({
      address: server.address,
      serve: (httpApp, middleware) =>
        Effect.gen(function* () {
          // platform-bun keeps the Bun server to itself but hands it to every request; with no
          // request ever served there is nothing to drain (and platform-bun stops it anyway).
          let bun: Bun.Server<unknown> | undefined
          let closed: Promise<void> = Promise.resolve()
          const capture = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
            bun = Option.getOrUndefined(bunServerOf(request))
          })
          const app = Effect.suspend(() => (bun === undefined ? Effect.zipRight(capture, httpApp) : httpApp))

          const drain = Effect.gen(function* () {
            closed = bun?.stop() ?? closed
            yield* shutdown.begin
            if (bun === undefined) return
            yield* Effect.logInfo("shutting down: draining requests in flight").pipe(
              Effect.annotateLogs({ requests: bun.pendingRequests, websockets: bun.pendingWebSockets, grace: Duration.format(config.shutdownGrace) })
            )
            const drained = yield* awaitAtMost(() => closed, config.shutdownGrace).pipe(Effect.orElseSucceed(Option.none))
            if (Option.isNone(drained)) {
              yield* Effect.logWarning("the shutdown grace ran out: requests still in flight are answered 503").pipe(
                Effect.annotateLogs({ requests: bun.pendingRequests, websockets: bun.pendingWebSockets })
              )
            }
          })

          const cut = Effect.suspend(() => {
            const stopping = bun
            if (stopping === undefined) return Effect.void
            return awaitAtMost(() => closed, cutWindow).pipe(
              Effect.zipRight(awaitAtMost(() => stopping.stop(true), cutWindow)),
              Effect.ignore
            )
          })

          // Finalizers run in reverse: `drain`, then platform-bun's (interrupt the requests), then `cut`.
          yield* Effect.addFinalizer(() => cut)
          yield* middleware === undefined ? server.serve(app) : server.serve(app, middleware)
          yield* Effect.addFinalizer(() => drain)
        })
    })
  })
)
