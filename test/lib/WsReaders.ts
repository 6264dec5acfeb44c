/**
 * Many WebSocket subscribers of one room in their own process, so that they keep reading while the
 * test process is busy. Prints `{"ready":count}` once all are subscribed, `{"reached":n}` once every
 * socket has received n events (for each checkpoint but the last), and, once every socket has
 * received the last checkpoint's number of events or closed, one line per socket:
 * `{events, digest, code?}`, where `digest` is `Bun.hash` of its event ids joined by ",", in the
 * order they arrived. The sockets stay open until the process is killed.
 * Usage: bun test/lib/WsReaders.ts <ws url> <token> <room> <count> <checkpoint>[,<checkpoint>...]
 */
export {}

const [url, token, room, countArg, checkpointsArg] = process.argv.slice(2)
const count = Number(countArg)
const checkpoints = checkpointsArg.split(",").map(Number)
const total = checkpoints[checkpoints.length - 1]
const reached = new Map(checkpoints.map((n) => [n, 0]))
let finished = 0

interface Reader {
  readonly ids: Array<string>
  code?: number
}
const readers: Array<Reader> = []

const finish = async () => {
  if (++finished < count) return
  const lines = readers.map((r) => `${JSON.stringify({ events: r.ids.length, digest: String(Bun.hash(r.ids.join(","))), code: r.code })}\n`)
  await Bun.write(Bun.stdout, lines.join(""))
}

/** The event's id without parsing the frame: `id` is the first field named so (`data` comes after). */
const idOf = (frame: string) => {
  const start = frame.indexOf('"id":"') + 6
  return frame.slice(start, frame.indexOf('"', start))
}

const connect = () =>
  new Promise<void>((resolve, reject) => {
    const reader: Reader = { ids: [] }
    readers.push(reader)
    const socket: WebSocket = Reflect.construct(WebSocket, [url, { headers: { authorization: `Bearer ${token}` } }])
    socket.onopen = () => socket.send(JSON.stringify({ type: "subscribe", room }))
    socket.onerror = () => reject(new Error("a reader failed to connect"))
    socket.onmessage = (message) => {
      const frame = String(message.data)
      if (frame.startsWith('{"type":"subscribed"')) return resolve()
      if (!frame.startsWith('{"type":"event"')) return
      reader.ids.push(idOf(frame))
      const sockets = reached.get(reader.ids.length)
      if (sockets === undefined) return
      reached.set(reader.ids.length, sockets + 1)
      if (reader.ids.length === total) void finish()
      else if (sockets + 1 === count) console.log(JSON.stringify({ reached: reader.ids.length }))
    }
    socket.onclose = (event) => {
      reader.code = event.code
      if (reader.ids.length < total) void finish()
    }
  })

for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: Math.min(50, count - i) }, connect))
console.log(JSON.stringify({ ready: count }))
