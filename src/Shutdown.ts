import { Deferred, Effect } from "effect"

/**
 * The moment the service starts stopping (SIGTERM/SIGINT, or the scope of an in-process service
 * closing). Layers are finalized one after the other, the HTTP server first and its drain can take
 * the whole shutdown grace; what must happen at once, side by side with that drain, waits here
 * instead: WebSockets leave with 1001 and the webhook workers give back the deliveries they claimed.
 */
export class Shutdown extends Effect.Service<Shutdown>()("bugbots/Shutdown", {
  effect: Effect.map(Deferred.make<void>(), (signal) => ({
    /** Starts the shutdown (the HTTP drain does, first of all finalizers); idempotent. */
    begin: Deferred.succeed(signal, undefined).pipe(Effect.asVoid),
    /** Completes once the shutdown has started. */
    started: Deferred.await(signal)
  }))
}) {}
