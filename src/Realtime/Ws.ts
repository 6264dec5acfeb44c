import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Duration, Effect, Either, Exit, type Fiber, FiberId, Layer, Runtime, Schedule, Schema, Scope, Stream } from "effect"
import { Auth } from "../Auth/Auth.js"
import { bearerToken } from "../Auth/Bearer.js"
import type { Principal } from "../Auth/Principal.js"
import { AppConfig } from "../Config.js"
import { ServiceUnavailable, Unauthenticated, ValidationFailed } from "../Domain/Errors.js"
import { Text } from "../Domain/Fields.js"
import { codeOf } from "../Http/ErrorEnvelope.js"
import { wsConnections } from "../Metrics/Series.js"
import { Shutdown } from "../Shutdown.js"
import { type ServerWebSocket, serverOf, type SocketHandler, upgrade } from "./BunWebSocket.js"
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

/** What every connection of the route shares. */
interface Route {
  readonly rooms: Rooms
  readonly settings: ConnectionSettings
  /** The open connections: the stall sweep and the shutdown go over them. */
  readonly connections: Set<Connection>
  readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>
}

/** Messages a client may have waiting while one of its messages is handled. */
const maxInbox = 256

/**
 * One WebSocket connection: a small record on the Bun socket (its `data`), told of the socket's
 * events directly. It holds no fiber while nothing happens: a client's message is handled by a
 * short-lived fiber (messages in order, one at a time), and a room still catching up (replay, then
 * what arrived meanwhile) has a fiber until it hands off to the room's Bun topic (see `RoomFeed`),
 * which then carries its events without anything of ours per socket.
 *
 * Bounded per connection, and nobody else waits for a slow socket. Catching up writes only while
 * the socket has at most `bufferBytes` unsent (a long `since` replay proceeds at the client's
 * pace). The socket is closed with 4008 when it falls more than `maxPending` events behind while
 * catching up, or stays over `bufferBytes` unsent for `stallTimeout`. It is dropped at once when
 * for `stallTimeout` Bun has held bytes for it and written none of them out: stalled. Bun holds
 * bytes only once the kernel's send buffer is full, so this holds however the backlog is split
 * between Bun and the kernel. Topic publishes report nothing per socket: the route's sweep sees what
 * Bun holds, and Bun's `drain` says when it wrote some out. Past a hard bound (`BunWebSocket.ts`) Bun
 * drops the socket itself.
 */
class Connection implements SocketHandler {
  /** Set by `onOpen`, which Bun calls before any other event of the socket. */
  private ws!: ServerWebSocket
  private open = true
  private holdingSince: number | undefined
  private overSince: number | undefined
  /** When Bun last wrote part of the backlog out (`drain`), as `Date.now()`. */
  private lastDrain = 0
  private catchingUp: Map<string, Fiber.RuntimeFiber<void>> | undefined
  private inbox: Array<string | Uint8Array> | undefined
  private handling = false

  constructor(private readonly principal: Principal, private readonly route: Route) {}

  onOpen(ws: ServerWebSocket) {
    this.ws = ws
    this.route.connections.add(this)
    wsConnections.unsafeUpdate(this.route.connections.size, [])
  }

  onMessage(message: string | Uint8Array) {
    if (!this.handling) return this.handle(message)
    const inbox = (this.inbox ??= [])
    if (inbox.length >= maxInbox) return this.close(1008, "too many messages waiting")
    inbox.push(message)
  }

  onDrain() {
    this.lastDrain = Date.now()
  }

  onClose() {
    this.open = false
    this.route.connections.delete(this)
    wsConnections.unsafeUpdate(this.route.connections.size, [])
    this.inbox = undefined
    if (this.catchingUp !== undefined) for (const fiber of this.catchingUp.values()) fiber.unsafeInterruptAsFork(FiberId.none)
  }

  close(code: number, reason: string) {
    if (!this.open) return
    this.open = false
    this.ws.close(code, reason)
  }

  private handle(message: string | Uint8Array) {
    this.handling = true
    this.route.runFork(this.answer(message)).addObserver(() => {
      const next = this.inbox?.shift()
      if (next !== undefined && this.open) this.handle(next)
      else this.handling = false
    })
  }

  private slow(reason: string) {
    this.close(slowConsumerCloseCode, `slow consumer: ${reason}; reconnect with since`)
  }

  /**
   * Without a close frame: behind a backlog that does not move it would never go out, and Bun would
   * hold both meanwhile. The client sees 1006 and resumes with `since` just the same.
   */
  private drop() {
    if (!this.open) return
    this.open = false
    this.ws.terminate()
  }

  private send(frame: string) {
    if (this.open && this.ws.send(frame) === 0) this.slow("the socket dropped a message")
  }

  private overBound() {
    return this.open && this.ws.getBufferedAmount() > this.route.settings.bufferBytes
  }

  /** Whether the socket has broken one of its bounds for `stallTimeout` (then it is closed). */
  stalled() {
    if (!this.open) return true
    const unsent = this.ws.getBufferedAmount()
    if (unsent === 0) {
      this.holdingSince = this.overSince = undefined
      return false
    }
    const now = Date.now()
    const stallMillis = Duration.toMillis(this.route.settings.stallTimeout)
    this.holdingSince ??= now
    this.overSince = unsent > this.route.settings.bufferBytes ? (this.overSince ?? now) : undefined
    if (now - Math.max(this.holdingSince, this.lastDrain) > stallMillis) this.drop()
    else if (this.overSince !== undefined && now - this.overSince > stallMillis) this.slow("too many unsent messages")
    return !this.open
  }

  private write(events: Iterable<LogEntry>, room: string) {
    return Effect.gen(this, function* () {
      for (const event of events) {
        while (this.overBound() && !this.stalled()) yield* Effect.sleep(drainPoll)
        if (!this.open) return
        this.send(eventFrame(event, room))
      }
    })
  }

  private reply(message: Record<string, unknown>) {
    return Effect.sync(() => this.send(JSON.stringify(message)))
  }

  private replyError(error: { readonly _tag: string; readonly message: string }, room?: string) {
    return this.reply({ type: "error", code: codeOf(error._tag), message: error.message, ...(room === undefined ? {} : { room }) })
  }

  private leave(room: string) {
    const fiber = this.catchingUp?.get(room)
    this.catchingUp?.delete(room)
    return Effect.zipRight(fiber === undefined ? Effect.void : Effect.asVoid(fiberInterrupt(fiber)), Effect.sync(() => this.open && this.ws.unsubscribe(room)))
  }

  /**
   * Follows the room (`Rooms.follow`: replay, then what arrived meanwhile) at the socket's pace,
   * until it has caught up: then the socket subscribes to the room's Bun topic, in the same
   * synchronous step, and the room costs this connection nothing any more.
   */
  private subscribe(room: string, since: string | undefined) {
    return Effect.gen(this, function* () {
      yield* this.leave(room)
      const scope = yield* Scope.make()
      const events = yield* this.route.rooms
        .follow(this.principal, room, since, { handoff: () => this.open && this.ws.subscribe(room), maxPending })
        .pipe(Scope.extend(scope), Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))))
      yield* this.reply({ type: "subscribed", room })
      const fiber = this.route.runFork(
        events.pipe(
          Stream.runForEachChunk((chunk) => this.write(chunk, room)),
          Effect.catchAll((error) => (error._tag === "TooFarBehind" ? Effect.sync(() => this.slow("too far behind the room")) : this.replyError(error, room))),
          Effect.ensuring(Scope.close(scope, Exit.void))
        )
      )
      const catchingUp = (this.catchingUp ??= new Map())
      catchingUp.set(room, fiber)
      fiber.addObserver(() => {
        if (catchingUp.get(room) === fiber) catchingUp.delete(room)
      })
      if (!this.open) fiber.unsafeInterruptAsFork(FiberId.none)
    }).pipe(Effect.catchAll((error) => this.replyError(error, room)))
  }

  private answer(raw: string | Uint8Array) {
    return Effect.suspend(() => {
      const text = typeof raw === "string" ? raw : new TextDecoder().decode(raw)
      const json = Either.try(() => JSON.parse(text) as unknown)
      if (Either.isLeft(json)) return this.replyError({ _tag: "BadRequest", message: "the message is not valid JSON" })
      const message = decodeClientMessage(json.right)
      if (Either.isLeft(message)) {
        return this.replyError(
          new ValidationFailed({
            message: `expected {"type":"subscribe","room",since?}, {"type":"unsubscribe","room"} or {"type":"ping"}`
          })
        )
      }
      switch (message.right.type) {
        case "ping":
          return this.reply({ type: "pong" })
        case "subscribe":
          return this.subscribe(message.right.room, message.right.since)
        case "unsubscribe":
          return Effect.zipRight(this.leave(message.right.room), this.reply({ type: "unsubscribed", room: message.right.room }))
      }
    })
  }
}

const fiberInterrupt = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) => Effect.flatMap(Effect.fiberId, (id) => fiber.interruptAsFork(id).pipe(Effect.zipRight(fiber.await)))

/** `GET /ws`: contract §5 on the REST port. */
export const WsRoute = Layer.unwrapScoped(
  Effect.gen(function* () {
    const auth = yield* Auth
    const rooms = yield* Rooms
    const feed = yield* RoomFeed
    const config = yield* AppConfig
    const shutdown = yield* Shutdown
    const settings = { idleSeconds: config.wsIdleSeconds, bufferBytes: config.wsBufferBytes }
    const route: Route = {
      rooms,
      settings: { bufferBytes: config.wsBufferBytes, stallTimeout: config.wsStallTimeout },
      connections: new Set(),
      // Connections outlive their upgrade request and keep nothing of it.
      runFork: Runtime.runFork(yield* Effect.runtime<never>())
    }
    const goingAway = Effect.sync(() => route.connections.forEach((connection) => connection.close(1001, "server shutting down")))
    // When the service starts stopping, every socket closes with 1001 (going away).
    yield* Effect.forkScoped(Effect.zipRight(shutdown.started, goingAway))
    yield* Effect.addFinalizer(() => goingAway)
    /**
     * One sweep over every connection's backlog, a few times per stall timeout and at least every
     * 250 ms: a stalled socket is dropped within the stall timeout and two sweeps (the first to see
     * its backlog, the one that finds it still there).
     */
    yield* Effect.sync(() => route.connections.forEach((connection) => connection.stalled())).pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(Math.min(250, Duration.toMillis(config.wsStallTimeout) / 4)))),
      Effect.forkScoped
    )

    return HttpLayerRouter.add("GET", "/ws", (request) =>
      Effect.gen(function* () {
        const principal = yield* auth.authenticate(tokenOf(request))
        if ((request.headers.upgrade ?? "").toLowerCase() !== "websocket") {
          return yield* Effect.fail(new UpgradeRequired({ message: "GET /ws expects a WebSocket upgrade" }))
        }
        const server = yield* serverOf(request, settings)
        yield* feed.attach(server)
        if (!upgrade(server, request, new Connection(principal, route))) {
          return yield* Effect.fail(new UpgradeRequired({ message: "the WebSocket upgrade failed" }))
        }
        return HttpServerResponse.empty()
      }).pipe(Effect.catchTags({
        Unauthenticated: (e) => Effect.succeed(failureResponse(e)),
        ServiceUnavailable: (e) => Effect.succeed(failureResponse(e)),
        UpgradeRequired: (e) => Effect.succeed(failureResponse(e))
      }))
    )
  })
)
