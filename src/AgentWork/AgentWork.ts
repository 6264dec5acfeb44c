import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Option } from "effect"
import type { AgentPrincipal, Principal } from "../Auth/Principal.js"
import { actorOf, Bugs, type Change, systemActor } from "../Bugs/Bugs.js"
import { AgentPaused } from "../Domain/Agent.js"
import { Bug, type BugEventKind, severityRank } from "../Domain/Bug.js"
import { Forbidden, NotFound } from "../Domain/Errors.js"
import type { BugId } from "../Domain/Ids.js"
import { Lease } from "../Leases/Lease.js"
import { Leases } from "../Leases/Leases.js"
import { withDb } from "../Sql/Retry.js"
import { rowDecoder } from "../Sql/Rows.js"
import { Claimed, type ClaimRequest, LeaseRenewed } from "./Api.js"

const table = "bug_bots"
const decodeBug = rowDecoder(Bug)

/** Only agents take work, and only while active. */
export const worker = (principal: Principal): Effect.Effect<AgentPrincipal, Forbidden | AgentPaused> =>
  principal.type !== "agent"
    ? Effect.fail(new Forbidden({ message: "only agents claim work" }))
    : principal.state === "paused"
    ? Effect.fail(new AgentPaused({ message: `agent ${principal.id} is paused` }))
    : Effect.succeed(principal)

/**
 * Contract §7: claims under a lease (`Leases`), heartbeats, releases and the sweeper that takes
 * expired leases back. Every bug change goes through `Bugs.mutate` (or `mutateLocked` for a claimed row).
 */
export class AgentWork extends Effect.Service<AgentWork>()("bugbots/AgentWork", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const bugs = yield* Bugs
    const leases = yield* Leases

    /** The bug goes back to `open`, unassigned, its lease ended; one lifecycle event of `kind`. */
    const giveBack = (bug: Bug, kind: BugEventKind, note: string | null): Change => ({
      patch: bugs.statusChange(bug, "open", null, note).patch,
      events: [{ kind, from_status: bug.status, to_status: "open", note, data: { agent_id: bug.assigned_agent_id } }]
    })

    const claimChange = (bug: Bug, agent: AgentPrincipal, lease: { token: string; expires: Date }): Change => ({
      patch: {
        ...bugs.statusChange(bug, "in_progress", agent.id, null).patch,
        lease_token: lease.token,
        lease_expires_at: lease.expires
      },
      events: [
        {
          kind: "claimed",
          from_status: bug.status,
          to_status: "in_progress",
          data: { agent_id: agent.id, lease_expires_at: lease.expires.toISOString() }
        }
      ]
    })

    /**
     * The candidate row, locked: the first free bug of the village (SKIP LOCKED, so concurrent
     * claimers pass each other) unless a bug already assigned to this agent comes before it.
     */
    const candidate = (agent: AgentPrincipal, request: ClaimRequest) => {
      const filters = sql`${request.repo_id === undefined ? sql`` : sql`and repo_id = ${request.repo_id}`} ${
        request.min_severity === undefined ? sql`` : sql`and severity_rank <= ${severityRank(request.min_severity)}`
      }`
      return sql<{ granted_until: Date }>`
        with mine as (
          select * from bug_bots
          where assigned_agent_id = ${agent.id} and status = 'assigned' ${filters}
          order by severity_rank, created_at, id limit 1
          for update
        ), free as (
          select b.* from bug_bots b
          where b.village_id = ${agent.village_id} and b.status in ('open', 'triaged')
            and (b.lease_expires_at is null or b.lease_expires_at <= now()) ${filters}
            and not exists (select 1 from mine m where (m.severity_rank, m.created_at, m.id) < (b.severity_rank, b.created_at, b.id))
          order by b.severity_rank, b.created_at, b.id limit 1
          for update of b skip locked
        )
        select c.*, ${leases.until(request.lease_seconds)} as granted_until
        from (select * from free union all select * from mine) c
        order by severity_rank, created_at, id limit 1`
    }

    /** The claimed bug and its lease, or `None` when nothing is claimable. */
    const claim = Effect.fn("AgentWork.claim")(function* (principal: Principal, request: ClaimRequest) {
      const agent = yield* worker(principal)
      if (request.repo_id !== undefined) {
        const repo = yield* sql`select 1 from repos where id = ${request.repo_id} and village_id = ${agent.village_id}`.pipe(withDb)
        if (repo.length === 0) return yield* Effect.fail(NotFound.of("repo", request.repo_id))
      }
      return yield* sql.withTransaction(
        Effect.gen(function* () {
          const [row] = yield* candidate(agent, request)
          if (row === undefined) return Option.none<Claimed>()
          const current = yield* decodeBug(row)
          const lease = { token: leases.newToken(), expires: row.granted_until }
          const bug = yield* bugs.mutateLocked(current, actorOf(agent), (bug) => Effect.succeed(claimChange(bug, agent, lease)))
          return Option.some(
            new Claimed({ bug, lease: new Lease({ token: lease.token, expires_at: DateTime.unsafeMake(lease.expires) }) })
          )
        })
      ).pipe(withDb)
    })

    const heartbeat = Effect.fn("AgentWork.heartbeat")(function* (principal: Principal, id: BugId, token: string, seconds: number) {
      const bug = yield* bugs.get(principal, id)
      yield* bugs.authorizeOn(principal, "work", bug)
      const expires_at = yield* leases.extend(table, id, token, seconds).pipe(withDb)
      return new LeaseRenewed({ expires_at })
    })

    const release = Effect.fn("AgentWork.release")(function* (principal: Principal, id: BugId, token: string, reason: string | undefined) {
      return yield* bugs.mutate(id, actorOf(principal), (bug) =>
        Effect.gen(function* () {
          yield* bugs.authorizeOn(principal, "work", bug)
          yield* leases.hold(table, id, token)
          return giveBack(bug, "released", reason ?? null)
        })
      )
    })

    /**
     * An expired lease on active work puts the bug back to `open`. A bug moved on to
     * `awaiting_verification` keeps its status: its work is done, only the lease ends.
     */
    const expire = (id: string) =>
      bugs.mutate(id as BugId, systemActor, (bug) =>
        Effect.succeed(
          bug.status === "assigned" || bug.status === "in_progress"
            ? giveBack(bug, "lease_expired", "lease expired")
            : {
                patch: { lease_token: null, lease_expires_at: null },
                events: [{ kind: "lease_expired" as const, note: "lease expired", data: { agent_id: bug.assigned_agent_id } }]
              }
        )
      )

    /** Starts this instance's sweeper of expired bug leases (for the life of the scope). */
    const sweepExpired = leases.sweeper(table, expire)

    return { claim, heartbeat, release, sweepExpired } as const
  }),
  dependencies: [Bugs.Default, Leases.Default]
}) {}

/** The lease sweeper of this instance; safe beside other instances' (SKIP LOCKED). */
export const LeaseSweeperLive = Layer.scopedDiscard(Effect.flatMap(AgentWork, (work) => work.sweepExpired))
