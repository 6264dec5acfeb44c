/**
 * `bugbots/client`: the typed client of the service's RPC surface (contract §8), for agents
 * written in TypeScript.
 *
 * ```ts
 * import { BugbotsClient, makeClient } from "bugbots/client"
 * const program = Effect.gen(function* () {
 *   const client = yield* BugbotsClient
 *   const claimed = yield* client.Claim({ lease_seconds: 120 })
 * }).pipe(Effect.provide(makeClient({ url: "http://127.0.0.1:3000", token })))
 * ```
 */
import { FetchHttpClient, HttpClient, HttpClientRequest, Socket } from "@effect/platform"
import { RpcClient, RpcSerialization } from "@effect/rpc"
import { Effect, Layer } from "effect"
import { BugbotsRpcs } from "./Rpcs.js"

export { BugbotsRpcs, ListBugsRequest, RpcAuthentication } from "./Rpcs.js"
export { AgentPaused } from "../Domain/Agent.js"
export { AgentSession, SessionEnded, WorkStreamEvent } from "../Domain/AgentSession.js"
export { AgentNotInVillage, AgentRequired, Bug, BugEvent, InvalidTransition, VersionConflict } from "../Domain/Bug.js"
export { Forbidden, NotFound, ServiceUnavailable, Unauthenticated, ValidationFailed } from "../Domain/Errors.js"
export { Lease, LeaseLost } from "../Domain/Lease.js"
export { Claimed, LeaseRenewed } from "../Domain/Work.js"
export { AgentUpdated, BugBotResolved, BugBotSpawned, BugBotUpdated, BugSummary, RealtimeEvent, WorkStreamPosted } from "../Domain/Events.js"

/** The RPC client: one method per RPC of `BugbotsRpcs` (`client.Claim(...)`, `client.WatchRoom(...)`). */
export class BugbotsClient extends Effect.Service<BugbotsClient>()("bugbots/BugbotsClient", {
  scoped: RpcClient.make(BugbotsRpcs)
}) {}

export interface ClientOptions {
  /** The service's base URL, e.g. `http://127.0.0.1:3000`. */
  readonly url: string
  /** A bearer token (an agent's, for claims). */
  readonly token: string
  /** `http` (NDJSON over `POST /rpc`, the default) or `websocket` (`GET /rpc` upgraded). */
  readonly transport?: "http" | "websocket"
}

const rpcUrl = (base: string, scheme: "http" | "ws") => {
  const url = new URL(base)
  if (scheme === "ws") url.protocol = url.protocol === "https:" ? "wss:" : "ws:"
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/rpc`
  return url.href
}

const httpProtocol = (options: ClientOptions) =>
  RpcClient.layerProtocolHttp({
    url: rpcUrl(options.url, "http"),
    transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(options.token))
  }).pipe(Layer.provide([FetchHttpClient.layer, RpcSerialization.layerNdjson]))

/** Bun's WebSocket takes handshake headers; the DOM typings in scope only know its browser form. */
const BunWebSocket = WebSocket as unknown as new (url: string, options: Bun.WebSocketOptions) => globalThis.WebSocket

/** The token goes in the handshake's `Authorization` header. */
const websocketProtocol = (options: ClientOptions) => {
  const init: Bun.WebSocketOptions = { headers: { authorization: `Bearer ${options.token}` } }
  return RpcClient.layerProtocolSocket({ retryTransientErrors: true }).pipe(
    Layer.provide(Socket.layerWebSocket(rpcUrl(options.url, "ws"))),
    Layer.provide(Layer.succeed(Socket.WebSocketConstructor, (url: string) => new BunWebSocket(url, init))),
    Layer.provide(RpcSerialization.layerJson)
  )
}

/** A ready `BugbotsClient` for the service at `url`, authenticated with `token`. */
export const makeClient = (options: ClientOptions): Layer.Layer<BugbotsClient> =>
  BugbotsClient.Default.pipe(
    Layer.provide(options.transport === "websocket" ? websocketProtocol(options) : httpProtocol(options))
  )
