import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { type Chunk, Deferred, Duration, Effect, Either, FiberMap, Layer, Option, Queue, Schema, Stream } from "effect"
import { Auth } from "../Auth/Auth.js"
import type { Principal } from "../Auth/Principal.js"
import { AppConfig } from "../Config.js"
import { ServiceUnavailable, Unauthenticated, ValidationFailed } from "../Domain/Errors.js"
import { codeOf } from "../Http/Envelope.js"
import { type ServerWebSocket, upgrade } from "./BunWebSocket.js"
import { EventHub } from "./EventHub.js"
import type { RealtimeEvent } from "./Events.js"
import { parseSince, Rooms } from "./Rooms.js"

/** Close code for a client that does not read fast enough (application range 4000-4999). */
export const slowConsumerCloseCode = 4008

/** How often a writer blocked on a full socket looks again. */
const drainPoll = Duration.millis(20)

const Since = Schema.Union(Schema.String, Schema.NonNegativeInt.pipe(Schema.transform(Schema.String, { decode: String, encode: Number })))

/** Contract §5: what a client may send. */
const ClientMessage = Schema.Union(
  Schema.Struct({ type: Schema.Literal("subscribe"), room: Schema.String, since: Schema.optional(Since) }),
  Schema.Struct({ type: Schema.Literal("unsubscribe"), room: Schema.String }),
  Schema.Struct({ type: Schema.Literal("ping") })
)
const decodeClientMessage = Schema.decodeUnknownEither(ClientMessage)

class UpgradeRequired extends Schema.TaggedError<UpgradeRequired>()("UpgradeRequired", { message: Schema.String }) {}

const frames = new WeakMap<RealtimeEvent, Map<string, string>>()

/** The event as the room's subscribers receive it, serialised once per event and room. */
const eventFrame = (event: RealtimeEvent, room: string) => {
  let byRoom = frames.get(event)
  if (byRoom === undefined) {
    byRoom = new Map()
    frames.set(event, byRoom)
  }
  let frame = byRoom.get(room)
  if (frame === undefined) {
    frame = JSON.stringify({ type: "event", event: event.event, room, id: event.id, correlation_id: event.correlation_id, data: event.data })
    byRoom.set(room, frame)
  }
  return frame
}

const tokenOf = (request: HttpServerRequest.HttpServerRequest) => {
  const header = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "")
  if (header !== null) return header[1]
  return new URL(request.url, "http://localhost").searchParams.get("token") ?? ""
}

const failureResponse = (error: Unauthenticated | ServiceUnavailable | UpgradeRequired) =>
  HttpServerResponse.unsafeJson(
    { _tag: error._tag, message: error.message },
    { status: error._tag === "Unauthenticated" ? 401 : error._tag === "UpgradeRequired" ? 426 : 503 }
  )

export interface ConnectionSettings {
  readonly bufferBytes: number
  readonly stallTimeout: Duration.Duration
}

/**
 * One WebSocket connection: the client's messages, handled in order, and a fiber per subscribed
 * room writing that room's events.
 *
 * Flow control: a room fiber writes while the socket has at most `bufferBytes` queued unsent, else
 * it waits for the socket to drain and stops pulling from its hub subscription and from the log
 * (a long `since` replay proceeds at the client's pace). A socket that stays over the bound for
 * `stallTimeout` is closed with 4008: its memory is bounded by `bufferBytes` plus that much of the
 * hub's backlog, which is shared by all subscribers, and nobody else ever waits for it.
 */
const serveConnection = (
  ws: ServerWebSocket,
  incoming: Queue.Dequeue<string | Uint8Array>,
  closed: Effect.Effect<void>,
  principal: Principal,
  deps: { readonly rooms: Rooms; readonly hub: EventHub; readonly settings: ConnectionSettings }
) =>
  Effect.gen(function* () {
    const done = yield* Deferred.make<void>()
    const subscriptions = yield* FiberMap.make<string>()
    const { bufferBytes } = deps.settings
    const stallMillis = Duration.toMillis(deps.settings.stallTimeout)
    let open = true
    let stalledSince: number | undefined

    const close = (code: number, reason: string) => {
      if (!open) return
      open = false
      ws.close(code, reason)
      Deferred.unsafeDone(done, Effect.void)
    }
    const send = (frame: string) => {
      if (open && ws.send(frame) === 0) close(slowConsumerCloseCode, "slow consumer: the socket dropped a message")
    }
    const writable = () => !open || ws.getBufferedAmount() <= bufferBytes

    /** Waits until the socket is under its bound again; past the stall timeout, closes it. */
    const drained = Effect.gen(function* () {
      stalledSince ??= Date.now()
      while (!writable()) {
        if (Date.now() - stalledSince > stallMillis) {
          return close(slowConsumerCloseCode, "slow consumer: too many unsent messages; reconnect with since")
        }
        yield* Effect.sleep(drainPoll)
      }
      stalledSince = undefined
    })

    const write = (events: Chunk.Chunk<RealtimeEvent>, room: string) =>
      Effect.gen(function* () {
        for (const event of events) {
          if (!writable()) yield* drained
          if (!open) return
          send(eventFrame(event, room))
        }
      })
    const reply = (message: Record<string, unknown>) => Effect.sync(() => send(JSON.stringify(message)))
    const replyError = (error: { readonly _tag: string; readonly message: string }, room?: string) =>
      reply({ type: "error", code: codeOf(error._tag), message: error.message, ...(room === undefined ? {} : { room }) })

    const follow = (room: string, since: string) =>
      deps.rooms.watch(principal, room, since).pipe(
        Stream.runForEachChunk((chunk) => write(chunk, room)),
        Effect.catchAll((error) => replyError(error, room))
      )

    const subscribe = (room: string, since: string | undefined) =>
      Effect.gen(function* () {
        yield* parseSince(since)
        yield* deps.rooms.authorize(principal, room)
        // Without `since`, "from now on" starts before `subscribed` is sent, not when the fiber runs.
        const from = since ?? String(yield* deps.hub.position)
        yield* reply({ type: "subscribed", room })
        yield* FiberMap.run(subscriptions, room, follow(room, from))
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
            yield* FiberMap.remove(subscriptions, message.right.room)
            return yield* reply({ type: "unsubscribed", room: message.right.room })
        }
      })

    yield* Queue.take(incoming).pipe(
      Effect.flatMap(handle),
      Effect.forever,
      Effect.raceFirst(closed),
      Effect.raceFirst(Deferred.await(done)),
      Effect.onInterrupt(() => Effect.sync(() => close(1001, "server shutting down")))
    )
    open = false
  }).pipe(Effect.scoped)

/** `GET /ws`: contract §5 on the REST port. */
export const WsRoute = Layer.unwrapEffect(
  Effect.gen(function* () {
    const auth = yield* Auth
    const rooms = yield* Rooms
    const hub = yield* EventHub
    const config = yield* AppConfig
    const settings = { idleSeconds: config.wsIdleSeconds }
    const deps = { rooms, hub, settings: { bufferBytes: config.wsBufferBytes, stallTimeout: config.wsStallTimeout } }

    return HttpLayerRouter.add("GET", "/ws", (request) =>
      Effect.gen(function* () {
        const principal = yield* auth.authenticate(tokenOf(request))
        if ((request.headers.upgrade ?? "").toLowerCase() !== "websocket") {
          return yield* Effect.fail(new UpgradeRequired({ message: "GET /ws expects a WebSocket upgrade" }))
        }
        const incoming = yield* Queue.unbounded<string | Uint8Array>()
        const upgraded = yield* upgrade(request, settings, (message) => Queue.unsafeOffer(incoming, message))
        if (Option.isNone(upgraded)) {
          return yield* Effect.fail(new UpgradeRequired({ message: "the WebSocket upgrade failed" }))
        }
        yield* serveConnection(upgraded.value.ws, incoming, upgraded.value.closed, principal, deps)
        return HttpServerResponse.empty()
      }).pipe(Effect.catchTags({
        Unauthenticated: (e) => Effect.succeed(failureResponse(e)),
        ServiceUnavailable: (e) => Effect.succeed(failureResponse(e)),
        UpgradeRequired: (e) => Effect.succeed(failureResponse(e))
      }))
    )
  })
)
