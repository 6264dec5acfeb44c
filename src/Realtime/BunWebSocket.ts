import type { HttpServerRequest } from "@effect/platform"
import { Socket } from "@effect/platform"
import { BunHttpServerRequest } from "@effect/platform-bun"
import { bunServerOf } from "../Http/BunServer.js"
import { Deferred, Effect, Exit, Option } from "effect"

/**
 * The `data` of every WebSocket on the Bun server, in the shape @effect/platform-bun's handlers
 * use (`internal/httpServer.js`): `open` completes `deferred`, `message` calls `run`, `close`
 * completes `closeDeferred`. Sockets of `/rpc` (upgraded by platform-bun) and of `/ws` share it.
 */
export interface SocketData {
  readonly deferred: Deferred.Deferred<Bun.ServerWebSocket<SocketData>>
  readonly closeDeferred: Deferred.Deferred<void, Socket.SocketCloseError>
  readonly buffer: Array<string | Uint8Array>
  run: (message: string | Uint8Array) => void
  /** `/ws` only: told when the socket has closed, whoever closed it. */
  readonly onClose?: () => void
  /** `/ws` only: told when Bun has written out part of the socket's backlog. */
  readonly onDrain?: () => void
}

export type ServerWebSocket = Bun.ServerWebSocket<SocketData>

export interface Settings {
  /** Seconds without a message or a pong before Bun drops the socket; it pings shortly before. */
  readonly idleSeconds: number
  /** The soft bound on a socket's unsent bytes (see `Ws.ts`); Bun's hard bound is a small multiple of it. */
  readonly bufferBytes: number
}

/** What `/ws` uses of the Bun server: upgrading, topics, and reinstalling the WebSocket handlers. */
export interface BunServer {
  upgrade(request: Request, options: { data: SocketData }): boolean
  reload(options: { websocket: Bun.WebSocketHandler<SocketData> }): unknown
  publish(topic: string, data: string): number
}

const configured = new WeakSet<BunServer>()

/**
 * platform-bun builds the server with Bun's default WebSocket options: idle timeout 120 s, and past
 * 16 MB unsent a socket silently drops messages (a gap). The handlers are reinstalled once,
 * unchanged in behaviour, with the configured idle timeout (Bun pings a quiet client shortly before
 * it and drops one that does not answer: the heartbeat), a `drain` handler (how `/ws` tells a slow
 * socket from a stalled one), and a hard bound on what Bun holds for one socket: past it Bun drops
 * the socket at once, freeing what it held, instead of dropping messages (the client then resumes
 * with `since`). It is a few times the soft bound, so that a burst does not drop a reader that
 * keeps up, and it is what a stalled socket may hold until `Ws.ts` drops it.
 */
const configure = (server: BunServer, settings: Settings) => {
  if (configured.has(server)) return
  configured.add(server)
  server.reload({
    websocket: {
      idleTimeout: Math.min(960, Math.max(8, settings.idleSeconds)),
      sendPings: true,
      backpressureLimit: 4 * settings.bufferBytes,
      closeOnBackpressureLimit: true,
      open(ws) {
        Deferred.unsafeDone(ws.data.deferred, Exit.succeed(ws))
      },
      message(ws, message) {
        ws.data.run(message)
      },
      drain(ws) {
        ws.data.onDrain?.()
      },
      close(ws, code, closeReason) {
        ws.data.onClose?.()
        Deferred.unsafeDone(
          ws.data.closeDeferred,
          Socket.defaultCloseCodeIsError(code)
            ? Exit.fail(new Socket.SocketCloseError({ reason: "Close", code, closeReason }))
            : Exit.void
        )
      }
    }
  })
}

export interface Upgraded {
  readonly server: BunServer
  readonly ws: ServerWebSocket
}

export interface Handlers {
  /** Every frame the client sends, from the first one on. */
  readonly onMessage: (message: string | Uint8Array) => void
  readonly onClose: () => void
  readonly onDrain: () => void
}

/**
 * Upgrades the request to a raw Bun WebSocket, once it is open. `None` when the request is not an
 * upgrade. The request may be answered at once: Bun ignores the response of an upgraded request.
 */
export const upgrade = (request: HttpServerRequest.HttpServerRequest, settings: Settings, handlers: Handlers) =>
  Effect.gen(function* () {
    const server = yield* bunServerOf(request).pipe(
      // Its `reload` accepts the WebSocket handlers alone, which Bun's typings do not say.
      Effect.map((bun) => bun as unknown as BunServer),
      Effect.orElse(() => Effect.dieMessage("@effect/platform-bun no longer exposes the Bun server on its requests"))
    )
    configure(server, settings)
    const data: SocketData = {
      deferred: yield* Deferred.make<ServerWebSocket>(),
      closeDeferred: yield* Deferred.make<void, Socket.SocketCloseError>(),
      buffer: [],
      run: handlers.onMessage,
      onClose: handlers.onClose,
      onDrain: handlers.onDrain
    }
    if (!server.upgrade(BunHttpServerRequest.toRequest(request), { data })) return Option.none<Upgraded>()
    const ws = yield* Deferred.await(data.deferred)
    return Option.some<Upgraded>({ server, ws })
  })
