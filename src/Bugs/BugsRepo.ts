import { PgClient } from "@effect/sql-pg"
import type { Fragment } from "@effect/sql/Statement"
import { DateTime, Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import { Bug, type BugFilters, BugEvent, type BugSort, type BugStatus, type Provider, type Severity, type Source, severityRank } from "../Domain/Bug.js"
import type { Actor, BugPatch, LifecycleEntry } from "../Domain/BugLifecycle.js"
import type { AgentId, BugId, RepoId, VillageId } from "../Domain/Ids.js"
import { cursorTimestamp } from "../Domain/Page.js"
import { decodeJsonRows, iso, jsonObject } from "../Sql/Json.js"

/** A new bug's columns. */
export interface NewBug {
  readonly village_id: VillageId
  readonly repo_id: RepoId
  readonly provider: Provider
  readonly source: Source
  readonly issue_id: number | null
  readonly issue_number: number | null
  readonly title: string
  readonly description: string | null
  readonly severity: Severity | null
  readonly category: string | null
  readonly metadata: Record<string, unknown>
}

/** Who writes a change's lifecycle event, under which correlation id. */
export interface Author {
  readonly actor: Actor
  readonly correlationId: string | null
}

/** What a claim may take. */
export interface ClaimScope {
  readonly agentId: AgentId
  readonly villageId: VillageId
  readonly repoId?: RepoId | undefined
  readonly minSeverity?: Severity | undefined
}

const bugJson = (alias: string) =>
  jsonObject(alias, [
    "id", "village_id", "repo_id", "provider", "issue_id", "issue_number", "title", "description", "status", "severity",
    "category", "assigned_agent_id", "source", "metadata", "version",
    ["created_at", iso(`${alias}.created_at`)],
    ["updated_at", iso(`${alias}.updated_at`)],
    ["resolved_at", iso(`${alias}.resolved_at`)]
  ])

const eventJson = (alias: string) =>
  jsonObject(alias, [
    "id", "bug_id", "kind", "actor_type", "actor_id", "from_status", "to_status", "note", "data", "correlation_id",
    ["created_at", iso(`${alias}.created_at`)]
  ])

const decodeBugs = decodeJsonRows(Bug)
const decodeEvents = decodeJsonRows(BugEvent)

/**
 * The one owner of `bug_bots` and `bug_bot_events`: SQL only. The rules live in
 * `Domain/BugLifecycle.ts` and the commands in `Bugs.ts`; rows leave this file as `Bug`s.
 */
export class BugsRepo extends Effect.Service<BugsRepo>()("bugbots/BugsRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const bugSelect = sql.literal(`${bugJson("b")}::text as json`)

    const first = <E, R>(rows: Effect.Effect<ReadonlyArray<{ readonly json: string }>, E, R>) =>
      rows.pipe(Effect.flatMap(decodeBugs), Effect.map((bugs) => Option.fromNullable(bugs[0])))

    const find = (id: BugId) => first(sql<{ json: string }>`select ${bugSelect} from bug_bots b where b.id = ${id}`)

    /** The bug's wire JSON, undecoded, with what authorizing a read of it needs. */
    const findJson = (id: BugId) =>
      sql<{ json: string; village_id: VillageId; assigned_agent_id: AgentId | null }>`
        select ${bugSelect}, b.village_id, b.assigned_agent_id from bug_bots b where b.id = ${id}`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )

    /** The bug, locked for the rest of the transaction. */
    const lock = (id: BugId) => first(sql<{ json: string }>`select ${bugSelect} from bug_bots b where b.id = ${id} for update`)

    const findUpstream = (provider: Provider, repoId: RepoId, issueId: number) =>
      sql<{ id: BugId }>`select id from bug_bots where provider = ${provider} and repo_id = ${repoId} and issue_id = ${issueId}`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]?.id))
      )

    const isInVillage = (id: BugId, villageId: VillageId) =>
      sql`select 1 from bug_bots where id = ${id} and village_id = ${villageId}`.pipe(Effect.map((rows) => rows.length > 0))

    const eventValues = (bugId: Fragment, entry: LifecycleEntry, author: Author) =>
      sql`${bugId}, ${entry.kind}, ${author.actor.type}, ${author.actor.id}, ${entry.from_status}::bug_status,
          ${entry.to_status}::bug_status, ${entry.note}, ${sql.json(entry.data)}, ${author.correlationId}`
    const eventColumns = sql.literal("bug_id, kind, actor_type, actor_id, from_status, to_status, note, data, correlation_id")

    /** Inserts a bug with its first lifecycle event, in one statement. */
    const insert = (bug: NewBug, status: BugStatus, entry: LifecycleEntry, author: Author) => {
      const row = { id: randomUUID(), ...bug, status, metadata: sql.json(bug.metadata) }
      return first(sql<{ json: string }>`
        with b as (insert into bug_bots ${sql.insert(row)} returning *),
        logged as (insert into bug_bot_events (${eventColumns}) select ${eventValues(sql`b.id`, entry, author)} from b)
        select ${bugSelect} from b`).pipe(Effect.map(Option.getOrThrow))
    }

    const assignments = (patch: BugPatch): ReadonlyArray<Fragment> => {
      const set: Array<Fragment> = []
      if (patch.status !== undefined) set.push(sql`status = ${patch.status}`)
      if (patch.assigned_agent_id !== undefined) set.push(sql`assigned_agent_id = ${patch.assigned_agent_id}`)
      if (patch.title !== undefined) set.push(sql`title = ${patch.title}`)
      if (patch.description !== undefined) set.push(sql`description = ${patch.description}`)
      if (patch.severity !== undefined) set.push(sql`severity = ${patch.severity}`)
      if (patch.category !== undefined) set.push(sql`category = ${patch.category}`)
      if (patch.metadata !== undefined) set.push(sql`metadata = ${sql.json(patch.metadata)}`)
      if (patch.resolved_at !== undefined) set.push(patch.resolved_at === null ? sql`resolved_at = null` : sql`resolved_at = now()`)
      if (patch.lease !== undefined) {
        set.push(
          patch.lease === null
            ? sql`lease_token = null, lease_expires_at = null`
            : sql`lease_token = ${patch.lease.token}, lease_expires_at = now() + make_interval(secs => ${patch.lease.seconds})`
        )
      }
      return set
    }

    /** Applies `patch` (version + 1) and appends its lifecycle event, in one statement; the bug and its lease's end. */
    const update = (id: BugId, patch: BugPatch, entry: LifecycleEntry, author: Author) =>
      sql<{ json: string; lease_expires_at: Date | null }>`
        with b as (
          update bug_bots set ${sql.csv([...assignments(patch), sql`version = version + 1`, sql`updated_at = now()`])}
          where id = ${id} returning *),
        logged as (insert into bug_bot_events (${eventColumns}) select ${eventValues(sql`b.id`, entry, author)} from b)
        select ${bugSelect}, b.lease_expires_at from b`.pipe(
        Effect.flatMap((rows) =>
          decodeBugs(rows).pipe(
            Effect.map(([bug]) => ({
              bug,
              leaseExpiresAt: Option.map(Option.fromNullable(rows[0].lease_expires_at), (date) => DateTime.unsafeMake(date))
            }))
          )
        )
      )

    /** A lifecycle event that is not a change of the bug (a note). */
    const appendEvent = (id: BugId, entry: LifecycleEntry, author: Author) =>
      sql<{ json: string }>`
        with e as (insert into bug_bot_events (${eventColumns}) values (${eventValues(sql`${id}`, entry, author)}) returning *)
        select ${sql.literal(eventJson("e"))}::text as json from e`.pipe(Effect.flatMap(decodeEvents), Effect.map((events) => events[0]))

    /** Lifecycle events oldest first; `afterSeq` is the position of the previous page's last. */
    const events = (id: BugId, limit: number, afterSeq: number | undefined) =>
      sql<{ json: string; seq: string }>`
        select ${sql.literal(eventJson("e"))}::text as json, e.seq from bug_bot_events e
        where e.bug_id = ${id} ${afterSeq === undefined ? sql`` : sql`and e.seq > ${afterSeq}`}
        order by e.seq limit ${limit + 1}`.pipe(
        Effect.flatMap((rows) =>
          decodeEvents(rows).pipe(Effect.map((decoded) => decoded.map((event, i) => ({ event, seq: Number(rows[i].seq) }))))
        )
      )

    const sortSpec = (sort: BugSort) => {
      switch (sort) {
        case "created_at":
          return { column: "created_at", dir: "asc" as const, ranked: false }
        case "-created_at":
          return { column: "created_at", dir: "desc" as const, ranked: false }
        case "updated_at":
          return { column: "updated_at", dir: "asc" as const, ranked: false }
        case "-updated_at":
          return { column: "updated_at", dir: "desc" as const, ranked: false }
        case "severity":
          return { column: "created_at", dir: "desc" as const, ranked: true }
      }
    }

    /**
     * One page in keyset order (`limit + 1` rows: the extra says whether another page exists), each
     * row the bug's wire JSON with its sort key; `after` is the sort key of the previous page's last.
     */
    const list = (
      villageId: VillageId,
      filters: BugFilters,
      sort: BugSort,
      limit: number,
      after: ReadonlyArray<string | number> | undefined
    ) => {
      const spec = sortSpec(sort)
      const cmp = spec.dir === "desc" ? "<" : ">"
      const conds = [sql`b.village_id = ${villageId}`]
      if (filters.status && filters.status.length > 0) conds.push(sql`b.status in ${sql.in(filters.status)}`)
      if (filters.repo_id) conds.push(sql`b.repo_id = ${filters.repo_id}`)
      if (filters.assigned_agent_id) conds.push(sql`b.assigned_agent_id = ${filters.assigned_agent_id}`)
      if (filters.severity) conds.push(sql`b.severity = ${filters.severity}`)
      if (filters.source) conds.push(sql`b.source = ${filters.source}`)
      if (after !== undefined) {
        const keyset = sql`(b.${sql.literal(spec.column)}, b.id) ${sql.literal(cmp)} (${after[after.length - 2]}::timestamptz, ${after[after.length - 1]}::uuid)`
        conds.push(spec.ranked ? sql`(b.severity_rank > ${after[0]} or (b.severity_rank = ${after[0]} and ${keyset}))` : keyset)
      }
      const order = spec.ranked
        ? sql.literal(`b.severity_rank asc, b.created_at desc, b.id desc`)
        : sql.literal(`b.${spec.column} ${spec.dir}, b.id ${spec.dir}`)
      return sql<{ json: string; ts: string; rank: number; id: string }>`
        select ${bugSelect}, ${sql.literal(cursorTimestamp(`b.${spec.column}`))} as ts, b.severity_rank as rank, b.id from bug_bots b
        where ${sql.and(conds)}
        order by ${order}
        limit ${limit + 1}`.pipe(
        Effect.map((rows) => rows.map((row) => ({ json: row.json, key: spec.ranked ? [row.rank, row.ts, row.id] : [row.ts, row.id] })))
      )
    }

    /**
     * The bug a claim takes, locked: the most severe, then oldest, free bug of the village (SKIP
     * LOCKED, so concurrent claimers pass each other), unless a bug already assigned to this agent
     * comes before it.
     */
    const claimable = (scope: ClaimScope) => {
      const filters = sql`${scope.repoId === undefined ? sql`` : sql`and repo_id = ${scope.repoId}`} ${
        scope.minSeverity === undefined ? sql`` : sql`and severity_rank <= ${severityRank(scope.minSeverity)}`
      }`
      return first(sql<{ json: string }>`
        with mine as (
          select * from bug_bots
          where assigned_agent_id = ${scope.agentId} and status = 'assigned' ${filters}
          order by severity_rank, created_at, id limit 1
          for update
        ), free as (
          select f.* from bug_bots f
          where f.village_id = ${scope.villageId} and f.status in ('open', 'triaged')
            and (f.lease_expires_at is null or f.lease_expires_at <= now()) ${filters}
            and not exists (select 1 from mine m where (m.severity_rank, m.created_at, m.id) < (f.severity_rank, f.created_at, f.id))
          order by f.severity_rank, f.created_at, f.id limit 1
          for update of f skip locked
        )
        select ${bugSelect}
        from (select * from free union all select * from mine) b
        order by b.severity_rank, b.created_at, b.id limit 1`)
    }

    /** Whether `token` names the bug's live lease; locks the row. */
    const holdsLease = (id: BugId, token: string) =>
      sql<{ held: boolean }>`
        select coalesce(lease_token = ${token}::uuid and lease_expires_at > now(), false) as held
        from bug_bots where id = ${id} for update`.pipe(Effect.map((rows) => rows[0]?.held === true))

    /** Moves the end of a live lease to `seconds` from now; its new expiry, if it was held. */
    const extendLease = (id: BugId, token: string, seconds: number) =>
      sql<{ expires_at: Date }>`
        update bug_bots set lease_expires_at = now() + make_interval(secs => ${seconds})
        where id = ${id} and lease_token = ${token}::uuid and lease_expires_at > now()
        returning lease_expires_at as expires_at`.pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (row) => DateTime.unsafeMake(row.expires_at)))
      )

    /** Up to `limit` bugs whose lease has run out, locked (others' are skipped). */
    const lockExpiredLeases = (limit: number) =>
      sql<{ id: BugId }>`
        select id from bug_bots where lease_expires_at <= now()
        order by lease_expires_at limit ${limit}
        for update skip locked`.pipe(Effect.map((rows) => rows.map((row) => row.id)))

    return {
      find, findJson, lock, findUpstream, isInVillage, insert, update, appendEvent, events, list, claimable, holdsLease, extendLease,
      lockExpiredLeases
    } as const
  })
}) {}
