import type { HttpServerRequest } from "@effect/platform"
import { Socket } from "@effect/platform"
import { BunHttpServerRequest } from "@effect/platform-bun"
import { bunServerOf } from "../Http/BunServer.js"
import { Deferred, Effect, Exit } from "effect"

/**
 * The `data` of the sockets platform-bun upgrades itself (`/rpc`), in the shape its handlers use
 * (`internal/httpServer.js`): `open` completes `deferred`, `message` calls `run`, `close` completes
 * `closeDeferred`.
 */
export interface PlatformSocketData {
  readonly deferred: Deferred.Deferred<Bun.ServerWebSocket<SocketData>>
  readonly closeDeferred: Deferred.Deferred<void, Socket.SocketCloseError>
  readonly buffer: Array<string | Uint8Array>
  run: (message: string | Uint8Array) => void
}

/**
 * The `data` of a `/ws` socket: the connection itself, told of the socket's events directly (no
 * fiber, queue or deferred per socket; see `Ws.ts`).
 */
export interface SocketHandler {
  readonly onOpen: (ws: ServerWebSocket) => void
  readonly onMessage: (message: string | Uint8Array) => void
  /** Bun has written out part of the socket's backlog. */
  readonly onDrain: () => void
  readonly onClose: () => void
}

export type SocketData = PlatformSocketData | SocketHandler

export type ServerWebSocket = Bun.ServerWebSocket<SocketData>

const isPlatform = (data: SocketData): data is PlatformSocketData => "closeDeferred" in data

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
 * unchanged in behaviour for platform-bun's sockets, with the configured idle timeout (Bun pings a
 * quiet client shortly before it and drops one that does not answer: the heartbeat), a `drain`
 * handler (how `/ws` tells a slow socket from a stalled one), and a hard bound on what Bun holds for
 * one socket: past it Bun drops the socket at once, freeing what it held, instead of dropping
 * messages (the client then resumes with `since`). It is a few times the soft bound, so that a
 * burst does not drop a reader that keeps up, and it is what a stalled socket may hold until
 * `Ws.ts` drops it.
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
        if (isPlatform(ws.data)) Deferred.unsafeDone(ws.data.deferred, Exit.succeed(ws))
        else ws.data.onOpen(ws)
      },
      message(ws, message) {
        if (isPlatform(ws.data)) ws.data.run(message)
        else ws.data.onMessage(message)
      },
      drain(ws) {
        if (!isPlatform(ws.data)) ws.data.onDrain()
      },
      close(ws, code, closeReason) {
        if (!isPlatform(ws.data)) return ws.data.onClose()
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

/** The Bun server behind the request, its WebSocket handlers installed. */
export const serverOf = (request: HttpServerRequest.HttpServerRequest, settings: Settings) =>
  bunServerOf(request).pipe(
    // Its `reload` accepts the WebSocket handlers alone, which Bun's typings do not say.
    Effect.map((bun) => bun as unknown as BunServer),
    Effect.orElse(() => Effect.dieMessage("@effect/platform-bun no longer exposes the Bun server on its requests")),
    Effect.tap((server) => configure(server, settings))
  )

/**
 * Upgrades the request to a raw Bun WebSocket handled by `handler` (told `onOpen` once it is open).
 * False when the request is not an upgrade. The request may be answered at once: Bun ignores the
 * response of an upgraded request.
 */
export const upgrade = (server: BunServer, request: HttpServerRequest.HttpServerRequest, handler: SocketHandler) =>
  server.upgrade(BunHttpServerRequest.toRequest(request), { data: handler })
