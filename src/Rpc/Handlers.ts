import { Effect, Option, Stream } from "effect"
import { AgentSessions } from "../AgentSessions/AgentSessions.js"
import { AgentWork } from "../AgentWork/AgentWork.js"
import type { Principal } from "../Auth/Principal.js"
import { CurrentPrincipal } from "../Auth/Principal.js"
import { Bugs } from "../Bugs/Bugs.js"
import { Rooms } from "../Realtime/Rooms.js"
import { BugbotsRpcs } from "./Rpcs.js"

const as = <A, E, R>(f: (principal: Principal) => Effect.Effect<A, E, R>) => Effect.flatMap(CurrentPrincipal, f)

/** Each RPC calls the same service method as its REST endpoint. */
export const RpcHandlersLive = BugbotsRpcs.toLayer(
  Effect.gen(function* () {
    const bugs = yield* Bugs
    const work = yield* AgentWork
    const sessions = yield* AgentSessions
    const rooms = yield* Rooms
    return {
      ListBugs: ({ village_id, sort, limit, cursor, ...filters }) => as((p) => bugs.list(p, village_id, filters, sort, limit, cursor)),
      GetBug: ({ id }) => as((p) => bugs.get(p, id)),
      AssignBug: ({ id, agent_id }) => as((p) => bugs.assign(p, id, agent_id)),
      ChangeStatus: ({ id, ...request }) => as((p) => bugs.changeStatus(p, id, request)),
      AddNote: ({ id, body }) => as((p) => bugs.addNote(p, id, body)),
      Claim: (request) => as((p) => work.claim(p, request)).pipe(Effect.map(Option.getOrNull)),
      Heartbeat: ({ id, lease_token, lease_seconds }) => as((p) => work.heartbeat(p, id, lease_token, lease_seconds)),
      Release: ({ id, lease_token, reason }) => as((p) => work.release(p, id, lease_token, reason)),
      StartSession: () => as((p) => sessions.start(p)),
      LogWork: ({ session_id, ...input }) => as((p) => sessions.append(p, session_id, input)),
      EndSession: ({ session_id }) => as((p) => sessions.end(p, session_id)),
      WatchRoom: ({ room, since }) => Stream.unwrap(as((p) => Effect.succeed(rooms.watch(p, room, since))))
    }
  })
)
