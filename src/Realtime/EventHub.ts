import { Deferred, Effect, PubSub, Ref } from "effect"
import { ServiceUnavailable } from "../Domain/Errors.js"
import { realtimeEvents } from "../Metrics/Series.js"
import type { LogEntry } from "./Events.js"

/**
 * The one in-process fan-out of realtime events. Only the relay publishes, in id order, and only
 * events whose id is settled (see `Relay.ts`); WebSocket rooms, RPC streams and metrics subscribe.
 *
 * `position` is the id of the last event handed to the hub. It is raised before the event is
 * published, so a subscriber that reads it right after subscribing finds every event above it in
 * its queue, and every event at or below it in the log: replaying `(since, position]` from the log
 * and then taking live events above `position` leaves no gap and no duplicate.
 */
export class EventHub extends Effect.Service<EventHub>()("bugbots/EventHub", {
  scoped: Effect.gen(function* () {
    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<LogEntry>(), PubSub.shutdown)
    const position = yield* Ref.make(0)
    const ready = yield* Deferred.make<void>()

    /** The relay found where the log stands: every id at or below `id` is settled. */
    const start = (id: number) => Ref.set(position, id).pipe(Effect.zipRight(Deferred.succeed(ready, undefined)))

    const publish = (event: LogEntry) =>
      Ref.set(position, Number(event.id)).pipe(
        Effect.zipRight(PubSub.publish(pubsub, event)),
        Effect.tap(() => realtimeEvents.unsafeUpdate(1, []))
      )

    /** Until the relay has settled its start position (normally at once; 10 s at most, else 503). */
    const awaitReady = Deferred.await(ready).pipe(
      Effect.timeoutFail({
        duration: "10 seconds",
        onTimeout: () => new ServiceUnavailable({ message: "the realtime relay has not reached the event log yet; retry later" })
      })
    )

    /** A subscription to every event published from now on, and the position it starts after. */
    const subscribe = Effect.gen(function* () {
      yield* awaitReady
      const queue = yield* PubSub.subscribe(pubsub)
      return { queue, position: yield* Ref.get(position) } as const
    })

    return { start, publish, subscribe } as const
  })
}) {}
