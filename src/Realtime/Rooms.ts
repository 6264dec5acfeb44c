import { PgClient } from "@effect/sql-pg"
import { Chunk, Data, Effect, Option, Queue, Schema, type Scope, Stream } from "effect"
import { authorize } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { type Forbidden, NotFound, ServiceUnavailable, ValidationFailed } from "../Domain/Errors.js"
import { Agents } from "../Agents/Agents.js"
import { AgentId, RepoId, VillageId } from "../Domain/Ids.js"
import { Villages } from "../Villages/Villages.js"
import { withDb } from "../Sql/Retry.js"
import { RoomFeed } from "./RoomFeed.js"
import type { LogEntry } from "./Events.js"
import { entryColumns, logBatchSize } from "./EventLog.js"

export type RoomError = NotFound | Forbidden | ValidationFailed

/** How many live events a watcher still catching up (or an RPC watcher) may fall behind. */
export const maxPending = 10_000

/** A watcher that does not keep up with its room. */
export class TooFarBehind extends Data.TaggedError("TooFarBehind")<{ readonly message: string }> {}

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
const parseSince = (since: string | undefined) =>
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
    const feed = yield* RoomFeed
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
     * The one way to follow a room (authorized and joined once this succeeds), for `/ws` and RPC alike: its events after `since` (replayed from
     * the log), then live, with no gap and no duplicate; without `since`, live events from now on.
     * The watcher joins the feed before the log is read, and the replay stops at the feed's position
     * at joining, past which the events it collected take over.
     *
     * With `handoff`, the stream ends once the watcher has caught up: at a moment when nothing is
     * pending, `handoff` runs in the same synchronous step as the watcher leaves (a socket subscribes
     * to the room's Bun topic, which carries every later event). With `maxPending`, a watcher that
     * falls that far behind fails with `TooFarBehind`.
     */
    const follow = (
      principal: Principal,
      room: string,
      since: string | undefined,
      options: { readonly handoff?: () => void; readonly maxPending?: number } = {}
    ): Effect.Effect<Stream.Stream<LogEntry, ServiceUnavailable | TooFarBehind>, RoomError | ServiceUnavailable, Scope.Scope> =>
        Effect.gen(function* () {
          const after = yield* parseSince(since)
          yield* authorize_(principal, room)
          const { joiner, position } = yield* feed.join(room)
          const start = after ?? position
          const last = Math.max(start, position)
          const live = Stream.repeatEffectChunkOption(
            Effect.suspend(() => {
              const { handoff, maxPending } = options
              if (maxPending !== undefined && Option.getOrElse(joiner.pending.unsafeSize(), () => 0) > maxPending) {
                return Effect.fail(Option.some(new TooFarBehind({ message: `more than ${maxPending} events behind the room` })))
              }
              if (handoff !== undefined && feed.goLive(joiner, handoff)) return Effect.fail(Option.none())
              return Queue.takeBetween(joiner.pending, 1, logBatchSize).pipe(Effect.map(Chunk.filter((event) => Number(event.id) > last)))
            })
          )
          return Stream.concat(replay_(room, start, position), live)
        })

    /**
     * `follow`, as one stream (RPC `WatchRoom`). A watcher that falls `maxPending` events behind is
     * told to watch again with `since` (a 503), instead of growing this instance's memory.
     */
    const watch = (principal: Principal, room: string, since: string | undefined) =>
      Stream.unwrapScoped(follow(principal, room, since, { maxPending })).pipe(
        Stream.catchTag("TooFarBehind", (e) =>
          Stream.fail(new ServiceUnavailable({ message: `${e.message}: watch again with since to resume` }))
        )
      )

    return { authorize: authorize_, follow, watch } as const
  }),
  dependencies: [RoomFeed.Default, Villages.Default, Agents.Default]
}) {}
