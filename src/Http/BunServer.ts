import type { HttpServerRequest } from "@effect/platform"
import { Option } from "effect"

/**
 * The one place the service reaches past @effect/platform-bun: the `Bun.Server` behind a request.
 * platform-bun keeps it on its request object (`bunServer`) and offers no public way to it, while
 * `/ws` needs its topics, upgrade and WebSocket options (send status, buffered amount, close codes,
 * drain) and the graceful shutdown needs `stop()` and its pending counts. Checked at run time, and
 * by `test/bun-server.test.ts`, so that a platform-bun without it fails loudly.
 */
export const bunServerOf = (request: HttpServerRequest.HttpServerRequest): Option.Option<Bun.Server<unknown>> =>
  Option.liftPredicate(Reflect.get(request, "bunServer"), isBunServer)

const isBunServer = (u: unknown): u is Bun.Server<unknown> =>
  typeof u === "object" && u !== null &&
  ["upgrade", "reload", "publish", "stop"].every((method) => typeof Reflect.get(u, method) === "function") &&
  typeof Reflect.get(u, "pendingRequests") === "number"
