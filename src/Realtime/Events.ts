import { Effect, Schema } from "effect"
import { RealtimeEvent } from "../Domain/Events.js"

/**
 * An entry of the durable event log as it travels inside an instance: the relay reads it, the hub
 * fans it out, rooms replay it. `data` stays the JSON text the log holds, so a `/ws` frame is built
 * around it without parsing or serialising it again; RPC decodes it into a typed `RealtimeEvent`.
 */
export interface LogEntry {
  readonly id: string
  readonly event: string
  readonly rooms: ReadonlyArray<string>
  readonly correlation_id: string | null
  /** The event's payload, as JSON text. */
  readonly data: string
}

export const villageRoom = (id: string) => `village:${id}`
export const repoRoom = (id: string) => `repo:${id}`
export const agentRoom = (id: string) => `agent:${id}`

const decodeEvent = Schema.decodeUnknown(RealtimeEvent)

/** The entry as its typed realtime event (for RPC subscribers); an entry that does not decode is our bug. */
export const typed = (entry: LogEntry) => decodeEvent({ ...entry, data: JSON.parse(entry.data) }).pipe(Effect.orDie)
