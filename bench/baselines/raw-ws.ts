/**
 * The baseline of bench/realtime.ts: raw Bun WebSockets with native topics. A client's
 * `{"type":"subscribe","room"}` subscribes it to the topic; `POST /publish` hands the body to
 * `server.publish` (Bun's C++ fan-out) — no database, no authorization, no replay.
 */
const server = Bun.serve({
  port: Number(process.env.PORT),
  hostname: "127.0.0.1",
  fetch(request, srv) {
    const url = new URL(request.url)
    if (url.pathname === "/ws") return srv.upgrade(request) ? undefined : new Response("upgrade required", { status: 426 })
    if (url.pathname === "/publish") return request.text().then((body) => (srv.publish("room", body), new Response("ok")))
    return new Response("raw WebSocket baseline")
  },
  websocket: {
    message(ws, message) {
      const parsed = JSON.parse(String(message))
      if (parsed.type === "subscribe") {
        ws.subscribe("room")
        ws.send(JSON.stringify({ type: "subscribed", room: parsed.room }))
      }
    }
  }
})
process.on("SIGTERM", () => {
  server.stop(true)
  process.exit(0)
})
