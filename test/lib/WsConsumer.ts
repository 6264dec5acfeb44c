/**
 * A WebSocket subscriber in its own process, so a test can stop it (SIGSTOP) and make it a truly
 * slow consumer: its kernel buffers fill and the server sees backpressure. Prints one JSON line on
 * `subscribed` and one when the socket closes: `{code, reason, events, ids}`.
 * Usage: bun test/lib/WsConsumer.ts <ws url> <token> <room>
 */
const [url, token, room] = process.argv.slice(2)
const ids: Array<string> = []
const socket: WebSocket = Reflect.construct(WebSocket, [url, { headers: { authorization: `Bearer ${token}` } }])
socket.onopen = () => socket.send(JSON.stringify({ type: "subscribe", room }))
socket.onmessage = (event) => {
  const message = JSON.parse(String(event.data))
  if (message.type === "subscribed") console.log(JSON.stringify({ subscribed: message.room }))
  if (message.type === "event") ids.push(message.id)
}
socket.onclose = async (event) => {
  await Bun.write(Bun.stdout, `${JSON.stringify({ code: event.code, reason: event.reason, events: ids.length, ids })}\n`)
  process.exit(0)
}
