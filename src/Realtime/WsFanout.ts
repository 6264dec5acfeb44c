import { type Chunk, Deferred, Duration, Effect, Queue, Schedule } from "effect"
import { AppConfig } from "../Config.js"
import { ServiceUnavailable } from "../Domain/Errors.js"
import type { BunServer, ServerWebSocket } from "./BunWebSocket.js"
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

/** A socket catching up on a room: replaying from the log, then taking what arrived meanwhile. */
export interface Joiner {
  readonly ws: ServerWebSocket
  readonly room: string
  /** Live events of the room that arrived since the joiner registered, in id order. */
  readonly pending: Array<LogEntry>
}

/**
 * The WebSocket side of the hub in this instance: one subscriber of the `EventHub` that hands each
 * event to Bun's native topic of every room it belongs to (`server.publish`: one serialisation, a
 * C++ loop over the sockets). A socket joins a room's topic only once it has caught up: it
 * registers as a joiner (collecting live events), replays the log up to the fan-out's position at
 * registration, drains what it collected, and subscribes to the topic in the same synchronous step
 * that finds nothing left to drain. Each event is handed out (to the joiners and the topics) in one
 * synchronous step, so that step falls between two events: no gap, no duplicate.
 *
 * After about `BUGBOTS_WS_BUFFER_BYTES` of frames the fan-out lets the event loop run, so that the
 * sockets of readers that keep up write a burst out as it comes, and only a socket that lags
 * accumulates it in Bun, up to the hard bound (`BunWebSocket.ts`).
 */
export class WsFanout extends Effect.Service<WsFanout>()("bugbots/WsFanout", {
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
            if (waiting !== undefined) for (const joiner of waiting) joiner.pending.push(event)
            const frame = eventFrame(event, room)
            server?.publish(room, frame)
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

    /** Starts catching `ws` up on `room`; returns the joiner and the position its replay must reach. */
    const join = (ws: ServerWebSocket, room: string) =>
      Deferred.await(started).pipe(
        Effect.timeoutFail({
          duration: "10 seconds",
          onTimeout: () => new ServiceUnavailable({ message: "the realtime relay has not reached the event log yet; retry later" })
        }),
        Effect.map(() => {
          const joiner: Joiner = { ws, room, pending: [] }
          const waiting = joiners.get(room) ?? new Set()
          waiting.add(joiner)
          joiners.set(room, waiting)
          return { joiner, position }
        })
      )

    const forget = (joiner: Joiner) => {
      const waiting = joiners.get(joiner.room)
      waiting?.delete(joiner)
      if (waiting?.size === 0) joiners.delete(joiner.room)
    }

    /** Leaves the joiners; true when it went live (subscribed to the topic), false while events remain to drain. */
    const goLive = (joiner: Joiner) =>
      Effect.sync(() => {
        if (joiner.pending.length > 0) return false
        forget(joiner)
        joiner.ws.subscribe(joiner.room)
        return true
      })

    const leave = (joiner: Joiner) => Effect.sync(() => forget(joiner))

    /** The Bun server whose topics the fan-out publishes to (known from the first upgrade). */
    const attach = (bun: BunServer) =>
      Effect.sync(() => {
        server = bun
      })

    return { join, goLive, leave, attach } as const
  }),
  dependencies: [EventHub.Default]
}) {}
