import { Effect, Option, Schema, Stream } from "effect"
import { AgentSessions } from "../AgentSessions/AgentSessions.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Bugs, decodeJson } from "../Bugs/Bugs.js"
import { Claimed, ClaimedBug } from "../Domain/Work.js"
import { Analyses } from "../Analyses/Analyses.js"
import { typed } from "../Realtime/Events.js"
import { Rooms } from "../Realtime/Rooms.js"
import { BugbotsRpcs } from "./Rpcs.js"

const decodeBug = (json: string) => Effect.map(decodeJson([json]), ([bug]) => bug)
const decodeClaimedBug = (json: string) => Effect.orDie(Schema.decodeUnknown(Schema.parseJson(ClaimedBug))(json))

/** Each RPC calls the same service method as its REST endpoint; bugs come back as their wire JSON, decoded here. */
export const RpcHandlersLive = BugbotsRpcs.toLayer(
  Effect.gen(function* () {
    const bugs = yield* Bugs
    const analyses = yield* Analyses
    const sessions = yield* AgentSessions
    const rooms = yield* Rooms
    return {
      ListBugs: ({ village_id, ...params }) => asPrincipal((p) => bugs.list(p, village_id, params)),
      GetBug: ({ id }) => asPrincipal((p) => bugs.get(p, id)),
      AssignBug: ({ id, agent_id }) => asPrincipal((p) => bugs.assign(p, id, agent_id)).pipe(Effect.flatMap(decodeBug)),
      ChangeStatus: ({ id, ...request }) => asPrincipal((p) => bugs.changeStatus(p, id, request)).pipe(Effect.flatMap(decodeBug)),
      AddNote: ({ id, body, lease_token }) => asPrincipal((p) => bugs.addNote(p, id, body, lease_token)),
      Claim: (request) =>
        asPrincipal((p) => bugs.claim(p, request)).pipe(
          Effect.flatMap(Option.match({
            onNone: () => Effect.succeed(null),
            onSome: ({ json, lease }) =>
              analyses.attachLatest(json).pipe(Effect.flatMap(decodeClaimedBug), Effect.map((bug) => new Claimed({ bug, lease })))
          }))
        ),
      Heartbeat: ({ id, lease_token, lease_seconds }) => asPrincipal((p) => bugs.heartbeat(p, id, lease_token, lease_seconds)),
      Release: ({ id, lease_token, reason }) => asPrincipal((p) => bugs.release(p, id, lease_token, reason)).pipe(Effect.flatMap(decodeBug)),
      StartSession: () => asPrincipal((p) => sessions.start(p)),
      LogWork: ({ session_id, ...input }) => asPrincipal((p) => sessions.append(p, session_id, input)),
      EndSession: ({ session_id }) => asPrincipal((p) => sessions.end(p, session_id)),
      WatchRoom: ({ room, since }) => Stream.unwrap(asPrincipal((p) => Effect.succeed(rooms.watch(p, room, since).pipe(Stream.mapEffect(typed)))))
    }
  })
)
