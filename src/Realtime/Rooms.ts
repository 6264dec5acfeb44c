import { PgClient } from "@effect/sql-pg"
import { Chunk, Effect, Option, Schema, Stream } from "effect"
import { authorize } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { type Forbidden, NotFound, type ServiceUnavailable, ValidationFailed } from "../Domain/Errors.js"
import { Agents } from "../Agents/Agents.js"
import { AgentId, RepoId, VillageId } from "../Domain/Ids.js"
import { Villages } from "../Villages/Villages.js"
import { withDb } from "../Sql/Retry.js"
import { EventHub } from "./EventHub.js"
import type { LogEntry } from "./Events.js"
import { entryColumns, logBatchSize } from "./EventLog.js"

export type RoomError = NotFound | Forbidden | ValidationFailed

const roomKinds = ["village", "repo", "agent"] as const
type RoomKind = (typeof roomKinds)[number]
const isUuid = Schema.is(Schema.UUID)
const cursorPattern = /^(0|[1-9][0-9]{0,17})$/

/** `village:<id>`, `repo:<id>` or `agent:<id>`; anything else is `VALIDATION_FAILED`. */
export const parseRoom = (room: string) => {
  const separator = room.indexOf(":")
  const kind = roomKinds.find((k) => k === room.slice(0, separator))
  const id = room.slice(separator + 1)
  if (separator < 0 || kind === undefined || !isUuid(id)) {
    return Effect.fail(
      new ValidationFailed({ message: `unknown room ${JSON.stringify(room)}: expected village:<id>, repo:<id> or agent:<id>` })
    )
  }
  return Effect.succeed({ kind, id })
}

/** A `since` cursor: the id of an event, as a decimal string. */
export const parseSince = (since: string | undefined) =>
  since === undefined
    ? Effect.succeed(undefined)
    : cursorPattern.test(since)
    ? Effect.succeed(Number(since))
    : Effect.fail(new ValidationFailed({ message: `since must be an event id (a decimal number), not ${JSON.stringify(since)}` }))

/**
 * Rooms of the realtime log, for every surface that watches them (WebSocket, RPC `WatchRoom`):
 * who may watch a room, and the room's events from a cursor on, replayed then live.
 */
export class Rooms extends Effect.Service<Rooms>()("bugbots/Rooms", {
  effect: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const hub = yield* EventHub
    const villages = yield* Villages
    const agents = yield* Agents

    /** The village a room belongs to, asked of the owner of the room's resource. */
    const villageOf = (kind: RoomKind, id: string): Effect.Effect<Option.Option<VillageId>, ServiceUnavailable> =>
      kind === "village"
        ? villages.find(VillageId.make(id)).pipe(
            Effect.map((village) => Option.some(village.id)),
            Effect.catchTag("NotFound", () => Effect.succeed(Option.none()))
          )
        : kind === "repo"
        ? villages.villageOfRepo(RepoId.make(id))
        : agents.villageOf(AgentId.make(id))

    /** The room's events with `since < id <= until`, in id order, one page. */
    const readRoom = (room: string, since: number, until: number) =>
      sql<LogEntry>`
        select ${sql.literal(entryColumns)} from realtime_events
        where rooms @> array[${room}]::text[] and id > ${since} and id <= ${until}
        order by realtime_events.id limit ${logBatchSize}`.pipe(withDb)

    /** The room's events with `after < id <= until`, from the log, in id order, a page at a time. */
    const replay_ = (room: string, after: number, until: number): Stream.Stream<LogEntry, ServiceUnavailable> =>
      Stream.paginateChunkEffect(after, (from) =>
        from >= until
          ? Effect.succeed([Chunk.empty<LogEntry>(), Option.none<number>()] as const)
          : readRoom(room, from, until).pipe(
              Effect.map((rows) =>
                [
                  Chunk.fromIterable(rows),
                  rows.length < logBatchSize ? Option.none<number>() : Option.some(Number(rows[rows.length - 1].id))
                ] as const
              )
            )
      )

    /** The same rule as REST reads: a room of a village the principal cannot see does not exist for it. */
    const authorize_ = Effect.fn("Rooms.authorize")(function* (principal: Principal, room: string) {
      const { kind, id } = yield* parseRoom(room)
      const village = yield* villageOf(kind, id)
      if (Option.isNone(village)) return yield* Effect.fail(NotFound.of(kind, id))
      yield* authorize(principal, "read", { villageId: village.value, resource: kind, resourceId: id })
    })

    /**
     * The room's events after `since` (replayed from the log), then live, with no gap and no
     * duplicate; without `since`, live events from now on. The hub is subscribed before the log is
     * read, and the replay stops at the hub's position, past which the subscription takes over.
     */
    const watch = (
      principal: Principal,
      room: string,
      since: string | undefined
    ): Stream.Stream<LogEntry, RoomError | ServiceUnavailable> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const after = yield* parseSince(since)
          yield* authorize_(principal, room)
          const { queue, position } = yield* hub.subscribe
          const start = after ?? position
          const replay = replay_(room, start, position)
          const last = Math.max(start, position)
          const live = Stream.fromQueue(queue).pipe(
            Stream.filter((event) => Number(event.id) > last && event.rooms.includes(room))
          )
          return Stream.concat(replay, live)
        })
      )

    return { authorize: authorize_, watch, replay: replay_ } as const
  }),
  dependencies: [EventHub.Default, Villages.Default, Agents.Default]
}) {}
