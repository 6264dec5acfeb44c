/**
 * One WebSocket to `/ws?token=` for the whole page (contract §5). Each room remembers the id of the
 * last event it received; after a drop the socket comes back with backoff and subscribes again with
 * `since`, so the room replays what was missed, with no gap and no duplicate. Frames are delivered
 * to their rooms in batches, once per animation frame, so a burst costs one render.
 */

export interface EventFrame {
  readonly type: "event"
  readonly event: string
  readonly room: string
  readonly id: string
  readonly data: unknown
}

interface Frame {
  readonly type?: unknown
  readonly room?: unknown
  readonly id?: unknown
  readonly message?: unknown
}

export type Connection = "connecting" | "live" | "reconnecting"

interface Room {
  since: string | undefined
  /** Confirmed by the server, or refused by it (an error frame): either way no longer awaited. */
  subscribed: boolean
  /** Subscribed without a cursor: once the server confirms, the room's holder reloads what it shows. */
  resync: boolean
  readonly onEvents: (frames: ReadonlyArray<EventFrame>) => void
  /** Told once the room is (re)subscribed without a cursor: load the current state now (events from here on arrive live). */
  readonly onResync: () => void
  readonly onError: (message: string) => void
}

const backoff = [250, 500, 1000, 2000, 3000]

export class Live {
  private socket: WebSocket | undefined
  private readonly rooms = new Map<string, Room>()
  private pending: Array<EventFrame> = []
  private flushScheduled = false
  private attempt = 0
  private closed = false
  private everOpened = false
  connection: Connection = "connecting"

  constructor(
    private readonly token: string,
    private readonly onConnection: (connection: Connection) => void,
    /** Told after every few failed attempts: a browser cannot see why an upgrade failed (a revoked token?). */
    private readonly onFailing: () => void
  ) {
    this.connect()
  }

  /** Watches a room until the returned function is called. `since` replays the room after that event. */
  join(room: string, handlers: Omit<Room, "since" | "subscribed" | "resync">, since?: string) {
    const entry: Room = { ...handlers, since, subscribed: false, resync: false }
    this.rooms.set(room, entry)
    this.subscribe(room, entry)
    return () => {
      if (this.rooms.get(room) !== entry) return
      this.rooms.delete(room)
      this.send({ type: "unsubscribe", room })
    }
  }

  close() {
    this.closed = true
    this.socket?.close(1000, "signed out")
  }

  private subscribe(room: string, entry: Room) {
    if (this.socket?.readyState !== WebSocket.OPEN) return
    entry.resync = entry.since === undefined
    this.send({ type: "subscribe", room, ...(entry.since === undefined ? {} : { since: entry.since }) })
  }

  private send(message: Record<string, unknown>) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message))
  }

  private setConnection(connection: Connection) {
    this.connection = connection
    this.onConnection(connection)
  }

  private connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws"
    const socket = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(this.token)}`)
    this.socket = socket
    socket.onopen = () => {
      this.attempt = 0
      this.everOpened = true
      this.rooms.forEach((entry, room) => {
        entry.subscribed = false
        this.subscribe(room, entry)
      })
      if (this.rooms.size === 0) this.setConnection("live")
    }
    socket.onmessage = (message) => this.receive(String(message.data))
    socket.onclose = () => {
      if (this.socket !== socket || this.closed) return
      this.setConnection(this.everOpened ? "reconnecting" : "connecting")
      const delay = backoff[Math.min(this.attempt, backoff.length - 1)]
      this.attempt++
      if (this.attempt % 3 === 0) this.onFailing()
      setTimeout(() => this.connect(), delay)
    }
  }

  private receive(text: string) {
    let frame: Frame
    try {
      frame = JSON.parse(text) as Frame
    } catch {
      return
    }
    const entry = typeof frame.room === "string" ? this.rooms.get(frame.room) : undefined
    if (frame.type === "event" && entry !== undefined) {
      entry.since = String(frame.id)
      this.pending.push(frame as EventFrame)
      this.scheduleFlush()
    } else if (frame.type === "subscribed" && entry !== undefined) {
      entry.subscribed = true
      if (entry.resync) {
        entry.resync = false
        entry.onResync()
      }
      if ([...this.rooms.values()].every((room) => room.subscribed)) this.setConnection("live")
    } else if (frame.type === "error" && entry !== undefined) {
      entry.subscribed = true
      if ([...this.rooms.values()].every((room) => room.subscribed)) this.setConnection("live")
      entry.onError(String(frame.message))
    }
  }

  private scheduleFlush() {
    if (this.flushScheduled) return
    this.flushScheduled = true
    // A hidden tab runs no animation frames: flush on a timer there, still in batches.
    if (document.hidden) setTimeout(() => this.flush(), 250)
    else requestAnimationFrame(() => this.flush())
  }

  private flush() {
    this.flushScheduled = false
    const frames = this.pending
    this.pending = []
    const byRoom = new Map<string, Array<EventFrame>>()
    for (const frame of frames) {
      const list = byRoom.get(frame.room)
      if (list === undefined) byRoom.set(frame.room, [frame])
      else list.push(frame)
    }
    byRoom.forEach((list, room) => this.rooms.get(room)?.onEvents(list))
  }
}
