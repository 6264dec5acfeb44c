import { RateLimiter } from "@effect/experimental"
import { Duration, Effect, Option } from "effect"
import { AppConfig } from "../Config.js"

/** A limit was reached: how long until it lets requests through again. */
export interface Limited {
  readonly retryAfter: Duration.Duration
}

/**
 * The service's rate limits (contract §9, §12), per minute (`BUGBOTS_RATE_LIMIT_WINDOW`), on
 * `@effect/experimental`'s `RateLimiter` (fixed windows, counted in this instance's memory: with N
 * instances behind a balancer a client gets up to N times the limit). A limit of 0 is off.
 */
export class RateLimits extends Effect.Service<RateLimits>()("bugbots/RateLimits", {
  effect: Effect.gen(function* () {
    const limiter = yield* RateLimiter.make
    const config = yield* AppConfig

    const consume = (key: string, limit: number): Effect.Effect<Option.Option<Limited>> =>
      limit === 0
        ? Effect.succeed(Option.none())
        : limiter.consume({ algorithm: "fixed-window", onExceeded: "fail", window: config.rateLimitWindow, limit, key }).pipe(
            Effect.as(Option.none<Limited>()),
            Effect.catchAll((error) =>
              error.reason === "Exceeded"
                ? Effect.succeed(Option.some({ retryAfter: error.retryAfter }))
                : Effect.logWarning("the rate limiter failed; letting the request through", error).pipe(Effect.as(Option.none<Limited>()))
            )
          )

    /** One error report through ingest key `keyId`. */
    const ingest = (keyId: string) => consume(`ingest:${keyId}`, config.ingestRateLimit)

    /** One mutating request of principal `principalId` (a user or an agent). */
    const principal = (principalId: string) => consume(`principal:${principalId}`, config.rateLimit)

    return { ingest, principal } as const
  }),
  dependencies: [RateLimiter.layerStoreMemory]
}) {}
