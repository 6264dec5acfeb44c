import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Duration, Effect, Either, Exit, FiberMap, FiberSet, Layer, Option, Queue, Schedule, Schema, Scope, Stream } from "effect"
import { Auth } from "../Auth/Auth.js"
import { bearerToken } from "../Auth/Bearer.js"
import type { Principal } from "../Auth/Principal.js"
import { AppConfig } from "../Config.js"
import { ServiceUnavailable, Unauthenticated, ValidationFailed } from "../Domain/Errors.js"
import { Text } from "../Domain/Fields.js"
import { codeOf } from "../Http/ErrorEnvelope.js"
import { wsConnections } from "../Metrics/Series.js"
import { Shutdown } from "../Shutdown.js"
import { type ServerWebSocket, upgrade } from "./BunWebSocket.js"
import type { LogEntry } from "./Events.js"
import { eventFrame, RoomFeed } from "./RoomFeed.js"
import { maxPending, Rooms } from "./Rooms.js"

/** Close code for a client that does not read fast enough (application range 4000-4999). */
export const slowConsumerCloseCode = 4008

/** How often a writer blocked on a full socket looks again. */
const drainPoll = Duration.millis(20)

const Since = Schema.Union(Text(20), Schema.NonNegativeInt.pipe(Schema.transform(Schema.String, { decode: String, encode: Number })))

/** Contract §5: what a client may send. */
const ClientMessage = Schema.Union(
  Schema.Struct({ type: Schema.Literal("subscribe"), room: Text(200), since: Schema.optional(Since) }),
  Schema.Struct({ type: Schema.Literal("unsubscribe"), room: Text(200) }),
  Schema.Struct({ type: Schema.Literal("ping") })
)
const decodeClientMessage = Schema.decodeUnknownEither(ClientMessage)

class UpgradeRequired extends Schema.TaggedError<UpgradeRequired>()("UpgradeRequired", { message: Schema.String }) {}

/** The bearer token of the handshake, or `?token=` (browsers cannot set headers on a WebSocket). */
const tokenOf = (request: HttpServerRequest.HttpServerRequest) =>
  bearerToken(request.headers.authorization) ?? new URL(request.url, "http://localhost").searchParams.get("token") ?? ""

const failureResponse = (error: Unauthenticated | ServiceUnavailable | UpgradeRequired) =>
  HttpServerResponse.unsafeJson(
    { _tag: error._tag, message: error.message },
    { status: error._tag === "Unauthenticated" ? 401 : error._tag === "UpgradeRequired" ? 426 : 503 }
  )

export interface ConnectionSettings {
  readonly bufferBytes: number
  readonly stallTimeout: Duration.Duration
}

interface Deps {
  readonly rooms: Rooms
  readonly feed: RoomFeed
  readonly settings: ConnectionSettings
  /** Connections whose backlog the route's sweeper looks at; each entry closes its socket if stalled. */
  readonly backlogs: Set<() => void>
}

/** What the socket hands the connection: a frame from the client, or word that it has closed. */
const socketClosed = Symbol("socketClosed")
type Incoming = string | Uint8Array | typeof socketClosed

/** When Bun last wrote part of the socket's backlog out (its `drain` handler), as `Date.now()`. */
interface Drains {
  last: number
}

/**
 * One WebSocket connection: one fiber taking the client's messages in order, and a fiber per room
 * still catching up (replay, then what arrived meanwhile); after that the room's events come from
 * Bun's topic (see `RoomFeed`) without any fiber of ours.
 *
 * Bounded per connection, and nobody else waits for a slow socket. Catching up writes only while
 * the socket has at most `bufferBytes` unsent (a long `since` replay proceeds at the client's
 * pace). The socket is closed with 4008 when it falls more than `maxPending` events behind while
 * catching up, or stays over `bufferBytes` unsent for `stallTimeout`. It is dropped at once when
 * for `stallTimeout` Bun has held bytes for it and written none of them out: stalled. Bun holds
 * bytes only once the kernel's send buffer is full, so this holds however the backlog is split
 * between Bun and the kernel. Topic publishes report nothing per socket: the sweep sees what Bun
 * holds, and Bun's `drain` says when it wrote some out. Past a hard bound (`BunWebSocket.ts`) Bun
 * drops the socket itself.
 */
const serveConnection = (
  ws: ServerWebSocket,
  incoming: Queue.Dequeue<Incoming>,
  drains: Drains,
  principal: Principal,
  deps: Deps
) =>
  Effect.gen(function* () {
    const catchingUp = yield* FiberMap.make<string>()
    const { bufferBytes } = deps.settings
    const stallMillis = Duration.toMillis(deps.settings.stallTimeout)
    let open = true
    let holdingSince: number | undefined
    let overSince: number | undefined

    const close = (code: number, reason: string) => {
      if (!open) return
      open = false
      ws.close(code, reason)
    }
    const slow = (reason: string) => close(slowConsumerCloseCode, `slow consumer: ${reason}; reconnect with since`)
    /**
     * Without a close frame: behind a backlog that does not move it would never go out, and Bun
     * would hold both meanwhile. The client sees 1006 and resumes with `since` just the same.
     */
    const drop = () => {
      if (!open) return
      open = false
      ws.terminate()
    }
    const send = (frame: string) => {
      if (open && ws.send(frame) === 0) slow("the socket dropped a message")
    }
    const overBound = () => open && ws.getBufferedAmount() > bufferBytes

    /** Whether the socket has broken one of its bounds for `stallTimeout` (then it is closed). */
    const stalled = () => {
      const unsent = ws.getBufferedAmount()
      if (unsent === 0) {
        holdingSince = overSince = undefined
        return false
      }
      const now = Date.now()
      holdingSince ??= now
      overSince = unsent > bufferBytes ? (overSince ?? now) : undefined
      if (now - Math.max(holdingSince, drains.last) > stallMillis) drop()
      else if (overSince !== undefined && now - overSince > stallMillis) slow("too many unsent messages")
      return !open
    }

    const drained = Effect.gen(function* () {
      while (overBound() && !stalled()) yield* Effect.sleep(drainPoll)
    })

    const write = (events: Iterable<LogEntry>, room: string) =>
      Effect.gen(function* () {
        for (const event of events) {
          if (overBound()) yield* drained
          if (!open) return
          send(eventFrame(event, room))
        }
      })

    const reply = (message: Record<string, unknown>) => Effect.sync(() => send(JSON.stringify(message)))
    const replyError = (error: { readonly _tag: string; readonly message: string }, room?: string) =>
      reply({ type: "error", code: codeOf(error._tag), message: error.message, ...(room === undefined ? {} : { room }) })

    const leaveRoom = (room: string) =>
      FiberMap.remove(catchingUp, room).pipe(Effect.zipRight(Effect.sync(() => open && ws.unsubscribe(room))))

    /**
     * Follows the room (`Rooms.follow`: replay, then what arrived meanwhile) at the socket's pace,
     * until it has caught up: then the socket subscribes to the room's Bun topic, in the same
     * synchronous step, and the room costs this connection no fiber any more.
     */
    const subscribe = (room: string, since: string | undefined) =>
      Effect.gen(function* () {
        yield* leaveRoom(room)
        const scope = yield* Scope.make()
        const events = yield* deps.rooms
          .follow(principal, room, since, { handoff: () => open && ws.subscribe(room), maxPending })
          .pipe(Scope.extend(scope), Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))))
        yield* reply({ type: "subscribed", room })
        yield* FiberMap.run(
          catchingUp,
          room,
          events.pipe(
            Stream.runForEachChunk((chunk) => write(chunk, room)),
            Effect.catchAll((error) => (error._tag === "TooFarBehind" ? Effect.sync(() => slow("too far behind the room")) : replyError(error, room))),
            Effect.ensuring(Scope.close(scope, Exit.void))
          )
        )
      }).pipe(Effect.catchAll((error) => replyError(error, room)))

    const handle = (raw: string | Uint8Array) =>
      Effect.gen(function* () {
        const text = typeof raw === "string" ? raw : new TextDecoder().decode(raw)
        const json = Either.try(() => JSON.parse(text) as unknown)
        if (Either.isLeft(json)) return yield* replyError({ _tag: "BadRequest", message: "the message is not valid JSON" })
        const message = decodeClientMessage(json.right)
        if (Either.isLeft(message)) {
          return yield* replyError(
            new ValidationFailed({
              message: `expected {"type":"subscribe","room",since?}, {"type":"unsubscribe","room"} or {"type":"ping"}`
            })
          )
        }
        switch (message.right.type) {
          case "ping":
            return yield* reply({ type: "pong" })
          case "subscribe":
            return yield* subscribe(message.right.room, message.right.since)
          case "unsubscribe":
            yield* leaveRoom(message.right.room)
            return yield* reply({ type: "unsubscribed", room: message.right.room })
        }
      })

    const checkBacklog = () => void stalled()
    deps.backlogs.add(checkBacklog)
    yield* Effect.addFinalizer(() => Effect.sync(() => deps.backlogs.delete(checkBacklog)))

    let next = yield* Queue.take(incoming)
    while (next !== socketClosed && open) {
      yield* handle(next)
      next = yield* Queue.take(incoming)
    }
  }).pipe(
    Effect.onInterrupt(() => Effect.sync(() => ws.close(1001, "server shutting down"))),
    Effect.scoped
  )

/** `GET /ws`: contract §5 on the REST port. */
export const WsRoute = Layer.unwrapScoped(
  Effect.gen(function* () {
    const auth = yield* Auth
    const rooms = yield* Rooms
    const feed = yield* RoomFeed
    const config = yield* AppConfig
    const shutdown = yield* Shutdown
    const settings = { idleSeconds: config.wsIdleSeconds, bufferBytes: config.wsBufferBytes }
    // Connections outlive their upgrade request: they run in the route's scope (closed at shutdown),
    // forked from the route's runtime so that they do not keep the request's context alive.
    let openConnections = 0
    const runConnection = yield* FiberSet.make().pipe(Effect.flatMap((set) => FiberSet.runtime(set)()))
    const deps: Deps = {
      rooms,
      feed,
      settings: { bufferBytes: config.wsBufferBytes, stallTimeout: config.wsStallTimeout },
      backlogs: new Set()
    }
    /**
     * One sweep over every connection's backlog, a few times per stall timeout and at least every
     * 250 ms: a stalled socket is dropped within the stall timeout and two sweeps (the first to see
     * its backlog, the one that finds it still there).
     */
    yield* Effect.sync(() => deps.backlogs.forEach((check) => check())).pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(Math.min(250, Duration.toMillis(config.wsStallTimeout) / 4)))),
      Effect.forkScoped
    )

    return HttpLayerRouter.add("GET", "/ws", (request) =>
      Effect.gen(function* () {
        const principal = yield* auth.authenticate(tokenOf(request))
        if ((request.headers.upgrade ?? "").toLowerCase() !== "websocket") {
          return yield* Effect.fail(new UpgradeRequired({ message: "GET /ws expects a WebSocket upgrade" }))
        }
        const incoming = yield* Queue.unbounded<Incoming>()
        const drains: Drains = { last: 0 }
        const upgraded = yield* upgrade(request, settings, {
          onMessage: (message) => Queue.unsafeOffer(incoming, message),
          onClose: () => Queue.unsafeOffer(incoming, socketClosed),
          onDrain: () => {
            drains.last = Date.now()
          }
        })
        if (Option.isNone(upgraded)) {
          return yield* Effect.fail(new UpgradeRequired({ message: "the WebSocket upgrade failed" }))
        }
        yield* feed.attach(upgraded.value.server)
        // Interrupted when the service starts stopping: the socket then closes with 1001 (going away).
        wsConnections.unsafeUpdate(++openConnections, [])
        runConnection(
          Effect.raceFirst(serveConnection(upgraded.value.ws, incoming, drains, principal, deps), shutdown.started).pipe(
            Effect.ensuring(Effect.sync(() => wsConnections.unsafeUpdate(--openConnections, [])))
          )
        )
        return HttpServerResponse.empty()
      }).pipe(Effect.catchTags({
        Unauthenticated: (e) => Effect.succeed(failureResponse(e)),
        ServiceUnavailable: (e) => Effect.succeed(failureResponse(e)),
        UpgradeRequired: (e) => Effect.succeed(failureResponse(e))
      }))
    )
  })
)
