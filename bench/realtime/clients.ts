export {}
/**
 * The subscribers of bench/realtime.ts, in their own process: opens `count` WebSockets to `url`,
 * subscribes each to `room`, prints `{"ready":count}`, then one line per event once every socket
 * has it: `{"key","first","last"}` (absolute ms). An event's key is `data.id:data.version`, found
 * without parsing the whole frame (the subscribers must cost less than the servers they measure).
 * Usage: bun bench/realtime/clients.ts <ws url> <room> <count>; closes all on stdin "close".
 */
const [target, room, countArg] = process.argv.slice(2)
const count = Number(countArg)
const now = () => performance.timeOrigin + performance.now()
const seen = new Map<string, { n: number; first: number }>()
const sockets: Array<WebSocket> = []
let dropped = 0

// The service splices the log's jsonb text into its frames (`"id": "…"`, with a space); raw frames are compact.
const idPattern = /"id":\s*"([^"]*)"/g
const versionPattern = /"version":\s*(\d+)/g
const keyOf = (frame: string) => {
  const data = frame.indexOf('"data":{')
  idPattern.lastIndex = data
  versionPattern.lastIndex = data
  return `${idPattern.exec(frame)?.[1]}:${versionPattern.exec(frame)?.[1]}`
}

const connect = () =>
  new Promise<void>((resolve, reject) => {
    const socket = new WebSocket(target)
    sockets.push(socket)
    socket.onopen = () => socket.send(JSON.stringify({ type: "subscribe", room }))
    socket.onerror = () => reject(new Error("connect failed"))
    socket.onclose = () => dropped++
    socket.onmessage = (message) => {
      const frame = String(message.data)
      if (frame.startsWith('{"type":"subscribed"')) return resolve()
      if (!frame.startsWith('{"type":"event"')) return
      const key = keyOf(frame)
      const entry = seen.get(key) ?? { n: 0, first: now() }
      entry.n++
      seen.set(key, entry)
      if (entry.n === count) {
        console.log(JSON.stringify({ key, first: entry.first, last: now() }))
        seen.delete(key)
      }
    }
  })

for (let i = 0; i < count; i += 250) await Promise.all(Array.from({ length: Math.min(250, count - i) }, connect))
console.log(JSON.stringify({ ready: count }))

const input = Bun.stdin.stream().pipeThrough(new TextDecoderStream()).getReader()
for (let read = await input.read(); !read.done && !read.value.includes("close"); read = await input.read());
for (const socket of sockets) {
  socket.onclose = null
  socket.close()
}
console.log(JSON.stringify({ closed: count, dropped }))
process.exit(0)
