/** A real WebSocket client for tests of `/ws`: collects every message, waits for the ones it needs. */
export interface WsClient {
  readonly socket: WebSocket
  /** Every parsed message received so far, oldest first. */
  readonly messages: Array<any>
  readonly send: (message: unknown) => void
  readonly sendRaw: (text: string) => void
  /** Resolves with the first message (already received or to come) matching `match`. */
  readonly next: (match: (message: any) => boolean, timeoutMs?: number) => Promise<any>
  /** Resolves once `count` messages match `match`. */
  readonly collect: (match: (message: any) => boolean, count: number, timeoutMs?: number) => Promise<Array<any>>
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>
  readonly close: () => void
}

export const wsUrl = (baseUrl: string, query = "") => `${baseUrl.replace(/^http/, "ws")}/ws${query}`

/** Opens `/ws` with the token as a bearer header (default) or as `?token=`. */
export const connectWs = (baseUrl: string, token: string, options: { readonly via?: "header" | "query" } = {}) =>
  new Promise<WsClient>((resolve, reject) => {
    // Bun's client takes headers; the DOM typing of `WebSocket` does not know the option.
    const socket: WebSocket =
      options.via === "query"
        ? new WebSocket(wsUrl(baseUrl, `?token=${encodeURIComponent(token)}`))
        : Reflect.construct(WebSocket, [wsUrl(baseUrl), { headers: { authorization: `Bearer ${token}` } }])
    const messages: Array<any> = []
    const waiters = new Set<() => void>()
    let resolveClosed: (value: { code: number; reason: string }) => void = () => {}
    const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r))
    socket.onmessage = (event) => {
      messages.push(JSON.parse(String(event.data)))
      for (const waiter of waiters) waiter()
    }
    socket.onclose = (event) => {
      resolveClosed({ code: event.code, reason: event.reason })
      for (const waiter of waiters) waiter()
    }
    socket.onerror = () => reject(new Error("WebSocket failed to open"))
    const collect = (match: (message: any) => boolean, count: number, timeoutMs = 5000) =>
      new Promise<Array<any>>((res, rej) => {
        const check = () => {
          const found = messages.filter(match)
          if (found.length >= count) {
            waiters.delete(check)
            clearTimeout(timer)
            res(found.slice(0, count))
          }
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          rej(new Error(`timed out waiting for ${count} messages; have ${JSON.stringify(messages.filter(match)).slice(0, 2000)}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    socket.onopen = () =>
      resolve({
        socket,
        messages,
        send: (message) => socket.send(JSON.stringify(message)),
        sendRaw: (text) => socket.send(text),
        next: (match, timeoutMs) => collect(match, 1, timeoutMs).then(([m]) => m),
        collect,
        closed,
        close: () => socket.close()
      })
  })

/** Subscribes and waits for the `subscribed` answer. */
export const subscribe = async (client: WsClient, room: string, since?: string) => {
  client.send(since === undefined ? { type: "subscribe", room } : { type: "subscribe", room, since })
  return client.next((m) => (m.type === "subscribed" || m.type === "error") && m.room === room)
}

export const eventsOf = (client: WsClient, room: string) => client.messages.filter((m) => m.type === "event" && m.room === room)

/** A frame as the server sent it (server frames are never masked). */
export interface Frame {
  readonly opcode: number
  readonly payload: Buffer
}

/**
 * A WebSocket client written on a bare TCP socket, for what a real client never does: ignore the
 * server's pings (a dead peer). Handshake, masking and frame parsing are the minimum of RFC 6455
 * the tests need.
 */
export const rawWs = async (baseUrl: string, token: string) => {
  const url = new URL(baseUrl)
  let pending = Buffer.alloc(0)
  let upgraded = false
  let status = 0
  const frames: Array<Frame> = []
  const listeners = new Set<() => void>()
  let onClosed: () => void = () => {}
  const closed = new Promise<void>((r) => (onClosed = r))
  const notify = () => listeners.forEach((l) => l())

  const parse = () => {
    if (!upgraded) {
      const end = pending.indexOf("\r\n\r\n")
      if (end < 0) return
      status = Number(pending.subarray(0, end).toString().split(" ")[1])
      upgraded = true
      pending = pending.subarray(end + 4)
    }
    while (pending.length >= 2) {
      const opcode = pending[0] & 0x0f
      let length = pending[1] & 0x7f
      let offset = 2
      if (length === 126) {
        if (pending.length < 4) return
        length = pending.readUInt16BE(2)
        offset = 4
      } else if (length === 127) {
        if (pending.length < 10) return
        length = Number(pending.readBigUInt64BE(2))
        offset = 10
      }
      if (pending.length < offset + length) return
      frames.push({ opcode, payload: Buffer.from(pending.subarray(offset, offset + length)) })
      pending = pending.subarray(offset + length)
    }
  }

  const socket = await Bun.connect({
    hostname: url.hostname,
    port: Number(url.port),
    socket: {
      data(_, chunk) {
        pending = Buffer.concat([pending, chunk])
        parse()
        notify()
      },
      close() {
        onClosed()
        notify()
      },
      error() {
        onClosed()
      }
    }
  })
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64")}\r\n` +
      `Sec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`
  )

  const until = (condition: () => boolean, timeoutMs = 5000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!condition()) return
        listeners.delete(check)
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        listeners.delete(check)
        reject(new Error("raw WebSocket: timed out"))
      }, timeoutMs)
      listeners.add(check)
      check()
    })

  const send = (message: unknown) => {
    const payload = Buffer.from(JSON.stringify(message))
    const mask = crypto.getRandomValues(new Uint8Array(4))
    const header = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff])
    socket.write(Buffer.concat([header, mask, payload.map((byte, i) => byte ^ mask[i % 4])]))
  }

  const texts = () => frames.filter((f) => f.opcode === 0x1).map((f) => JSON.parse(f.payload.toString()))
  const closeFrame = () => {
    const frame = frames.find((f) => f.opcode === 0x8)
    return frame === undefined ? undefined : { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString() }
  }

  await until(() => upgraded)
  return {
    status: () => status,
    frames,
    texts,
    closeFrame,
    closed,
    send,
    until,
    end: () => socket.end()
  }
}
