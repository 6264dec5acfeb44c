import { type Chunk, Deferred, Duration, Effect, Option, Queue, Schedule } from "effect"
import { AppConfig } from "../Config.js"
import { ServiceUnavailable } from "../Domain/Errors.js"
import type { BunServer } from "./BunWebSocket.js"
import { EventHub } from "./EventHub.js"
import type { LogEntry } from "./Events.js"

/** The hub answers 503 until the relay has settled its start; the fan-out keeps asking. */
const untilTheRelayStarts = Schedule.spaced("1 second")

const frames = new WeakMap<LogEntry, Map<string, string>>()

/** The event as a room's subscribers receive it (contract §5), serialised once per event and room. */
export const eventFrame = (event: LogEntry, room: string) => {
  let byRoom = frames.get(event)
  if (byRoom === undefined) {
    byRoom = new Map()
    frames.set(event, byRoom)
  }
  let frame = byRoom.get(room)
  if (frame === undefined) {
    // The payload is the log's JSON text, spliced in as it is: it is never parsed or serialised again.
    frame = `{"type":"event","event":${JSON.stringify(event.event)},"room":${JSON.stringify(room)},"id":${JSON.stringify(event.id)},` +
      `"correlation_id":${JSON.stringify(event.correlation_id)},"data":${event.data}}`
    byRoom.set(room, frame)
  }
  return frame
}

/** A watcher of a room catching up: the live events of the room since it registered, in id order. */
export interface Joiner {
  readonly room: string
  readonly pending: Queue.Queue<LogEntry>
}

/**
 * The one subscriber of the `EventHub` in this instance, for every room watcher (`Rooms.watch`):
 * it hands each event to the joiners of its rooms (watchers still catching up, and RPC watchers,
 * which stay joiners) and to Bun's native topic of each room (`server.publish`: one serialisation,
 * a C++ loop over the sockets that went live). Each event is handed out in one synchronous step, so
 * a joiner's hand-off to the topic (`goLive`, also synchronous) falls between two events: no gap,
 * no duplicate.
 *
 * After about `BUGBOTS_WS_BUFFER_BYTES` of frames the fan-out lets the event loop run, so that the
 * sockets of readers that keep up write a burst out as it comes, and only a socket that lags
 * accumulates it in Bun, up to the hard bound (`BunWebSocket.ts`).
 */
export class RoomFeed extends Effect.Service<RoomFeed>()("bugbots/RoomFeed", {
  scoped: Effect.gen(function* () {
    const hub = yield* EventHub
    const { wsBufferBytes } = yield* AppConfig
    const started = yield* Deferred.make<void>()
    const joiners = new Map<string, Set<Joiner>>()
    let position = 0
    let server: BunServer | undefined

    const deliver = (events: Chunk.Chunk<LogEntry>) =>
      Effect.gen(function* () {
        let handedOut = 0
        for (const event of events) {
          if (handedOut > wsBufferBytes) {
            handedOut = 0
            yield* Effect.sleep(Duration.zero)
          }
          position = Number(event.id)
          for (const room of event.rooms) {
            const waiting = joiners.get(room)
            if (waiting !== undefined) for (const joiner of waiting) Queue.unsafeOffer(joiner.pending, event)
            if (server === undefined) continue
            const frame = eventFrame(event, room)
            server.publish(room, frame)
            handedOut += frame.length
          }
        }
      })

    yield* Effect.gen(function* () {
      const subscription = yield* hub.subscribe
      position = subscription.position
      yield* Deferred.succeed(started, undefined)
      yield* Queue.takeBetween(subscription.queue, 1, 4096).pipe(Effect.flatMap(deliver), Effect.forever)
    }).pipe(Effect.scoped, Effect.retry(untilTheRelayStarts), Effect.forkScoped)

    const forget = (joiner: Joiner) => {
      const waiting = joiners.get(joiner.room)
      waiting?.delete(joiner)
      if (waiting?.size === 0) joiners.delete(joiner.room)
    }

    /** Registers a joiner of `room` for the life of the scope; with the position its replay must reach. */
    const join = (room: string) =>
      Deferred.await(started).pipe(
        Effect.timeoutFail({
          duration: "10 seconds",
          onTimeout: () => new ServiceUnavailable({ message: "the realtime relay has not reached the event log yet; retry later" })
        }),
        Effect.zipRight(Queue.unbounded<LogEntry>()),
        Effect.map((pending) => {
          const joiner: Joiner = { room, pending }
          const waiting = joiners.get(room) ?? new Set()
          waiting.add(joiner)
          joiners.set(room, waiting)
          return { joiner, position }
        }),
        Effect.tap(({ joiner }) => Effect.addFinalizer(() => Effect.sync(() => forget(joiner))))
      )

    /**
     * When nothing is pending, leaves the joiners and runs `handoff` (a socket subscribing to the
     * room's topic) in the same synchronous step; false while events remain to take.
     */
    const goLive = (joiner: Joiner, handoff: () => void) => {
      if (Option.getOrElse(joiner.pending.unsafeSize(), () => 0) > 0) return false
      forget(joiner)
      handoff()
      return true
    }

    /** The Bun server whose topics the fan-out publishes to (known from the first upgrade). */
    const attach = (bun: BunServer) =>
      Effect.sync(() => {
        server = bun
      })

    return { join, goLive, attach } as const
  }),
  dependencies: [EventHub.Default]
}) {}
