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
    const socket =
      options.via === "query"
        ? new WebSocket(wsUrl(baseUrl, `?token=${encodeURIComponent(token)}`))
        : new WebSocket(wsUrl(baseUrl), { headers: { authorization: `Bearer ${token}` } })
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
