import { expect, test } from "bun:test"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { BunHttpServer } from "@effect/platform-bun"
import { Effect, Exit, Layer, Option, Scope } from "effect"
import { bunServerOf } from "../src/Http/BunServer.js"

/**
 * `/ws` and the graceful shutdown rely on the one reach past @effect/platform-bun's public surface
 * (`src/Http/BunServer.ts`): the Bun server behind a request. Against the installed platform-bun,
 * with a server of its own: when an upgrade of the library moves it, this fails here, by name.
 */
test("platform-bun still carries the Bun server on its requests", async () => {
  let found: Option.Option<Bun.Server<unknown>> = Option.none()
  const app = HttpRouter.empty.pipe(
    HttpRouter.get(
      "/",
      Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
        found = bunServerOf(request)
        return HttpServerResponse.text("ok")
      })
    )
  )
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(HttpServer.serve(app).pipe(Layer.provideMerge(BunHttpServer.layer({ port: 0, hostname: "127.0.0.1" }))), scope)
  )
  const address = Effect.runSync(Effect.provide(HttpServer.HttpServer, context)).address
  try {
    if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
    expect(await (await fetch(`http://127.0.0.1:${address.port}/`)).text()).toBe("ok")
    expect(Option.isSome(found)).toBe(true)
    const server = Option.getOrThrow(found)
    expect(server.port).toBe(address.port)
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
})
