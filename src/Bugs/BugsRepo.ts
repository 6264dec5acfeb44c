import { PgClient } from "@effect/sql-pg"
import type { Fragment } from "@effect/sql/Statement"
import { DateTime, Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import { Bug, type BugFilters, BugEvent, type BugSort, type BugStatus, isTerminal, type Provider, type Severity, type Source, severityRank } from "../Domain/Bug.js"
import type { Actor, BugPatch, LifecycleEntry } from "../Domain/BugLifecycle.js"
import type { AgentId, BugId, RepoId, VillageId } from "../Domain/Ids.js"
import type { RealtimeEventName } from "../Domain/Events.js"
import { cursorTimestamp } from "../Domain/Page.js"
import { EventLog } from "../Realtime/EventLog.js"
import { decodeJsonRows, iso, jsonObject } from "../Sql/Json.js"
import { type BugChange, BugFollowUps } from "./FollowUps.js"

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
  /** Seconds from creation to its SLA deadline (by its severity and its village's policy). */
  readonly sla_seconds: number | null
  /** What its first error report says (contract §9). */
  readonly report?: {
    readonly seen: Date
    readonly release: string | null
    readonly environment: string | null
    readonly trace_id: string | null
    readonly request_id: string | null
    readonly release_sha: string | null
  }
}

/** What a batch of counted error reports adds to a bug (contract §9: counters, latest telemetry). */
export interface Counted {
  readonly bug_id: BugId
  readonly count: number
  readonly first_seen: string
  readonly last_seen: string
  readonly release: string | null
  readonly environment: string | null
  readonly trace_id: string | null
  readonly request_id: string | null
  readonly release_sha: string | null
}

/** Who writes a change's lifecycle event, under which correlation id. */
export interface Author {
  readonly actor: Actor
  readonly correlationId: string | null
}

/** A bug as read to be changed: decoded for the rules, its JSON as read, and whether a given lease is held. */
export interface Current {
  readonly bug: Bug
  readonly json: string
  readonly leaseHeld: boolean
}

/** The realtime event a write publishes. */
export interface Publication {
  readonly event: RealtimeEventName
  readonly correlationId: string | null
}

/** What a claim may take. */
export interface ClaimScope {
  readonly agentId: AgentId
  readonly villageId: VillageId
  readonly repoId?: RepoId | undefined
  readonly minSeverity?: Severity | undefined
}

/** The fields of a bug (contract §4, §9) in wire order, with how each column becomes its wire value. */
const bugFields: ReadonlyArray<readonly [name: string, kind: "plain" | "timestamp" | "int8"]> = [
  ["id", "plain"], ["village_id", "plain"], ["repo_id", "plain"], ["provider", "plain"], ["issue_id", "int8"], ["issue_number", "plain"],
  ["title", "plain"], ["description", "plain"], ["status", "plain"], ["severity", "plain"], ["category", "plain"],
  ["assigned_agent_id", "plain"], ["source", "plain"], ["metadata", "plain"], ["version", "plain"], ["created_at", "timestamp"],
  ["updated_at", "timestamp"], ["resolved_at", "timestamp"], ["occurrences", "plain"], ["first_seen", "timestamp"],
  ["last_seen", "timestamp"], ["last_release", "plain"], ["environment", "plain"], ["trace_id", "plain"], ["request_id", "plain"],
  ["release_sha", "plain"], ["sla_due_at", "timestamp"], ["resolution_notes", "plain"], ["commit_shas", "plain"],
  ["duplicate_of_id", "plain"], ["resolved_in_release", "plain"]
]

/** The bug's wire JSON built by PostgreSQL (one row, and realtime payloads); `withDescription: false` for realtime events. */
const renderBug = (alias: string, withDescription: boolean) =>
  jsonObject(
    alias,
    bugFields
      .filter(([name]) => withDescription || name !== "description")
      .map(([name, kind]) => (kind === "timestamp" ? [name, iso(`${alias}.${name}`)] as const : name))
  )

/** The columns a page of bugs is read with: PostgreSQL sends them as they are and the page's JSON is built here. */
const bugColumns = (alias: string) => bugFields.map(([name]) => `${alias}.${name}`).join(", ")

/**
 * A bug's wire object from its columns as Bun.SQL reads them, what `renderBug` has PostgreSQL build
 * (a test compares them): timestamps to RFC 3339 with milliseconds (both truncate), `int8` to a
 * number. For pages, where building 50 objects in PostgreSQL cost it more than the rest of the
 * query; the page is stringified once, whole.
 */
const wireBug = (row: ReadonlyArray<unknown>) => {
  const wire: Record<string, unknown> = {}
  for (let i = 0; i < bugFields.length; i++) {
    const [name, kind] = bugFields[i]
    const value = row[i]
    wire[name] = value === null ? null : kind === "timestamp" ? (value as Date).toISOString() : kind === "int8" ? Number(value) : value
  }
  return wire
}
const bugJson = (alias: string) => renderBug(alias, true)

/** The bug as realtime events carry it: without its description. */
const summaryJson = (alias: string) => renderBug(alias, false)

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
    const log = yield* EventLog
    const followUps = yield* BugFollowUps
    /** The follow-up jobs' CTEs of a change (`FollowUps.ts`), to append after the statement's own. */
    const followUpsOf = (change: BugChange) => followUps.ctes(change).reduce((all, cte) => sql`${all}${cte}`, sql``)
    const bugSelect = sql.literal(`${bugJson("b")}::text as json`)
    const bugSummary = summaryJson("b")
    const eventSelect = sql.literal(`${eventJson("e")}::text as json`)

    const first = <E, R>(rows: Effect.Effect<ReadonlyArray<{ readonly json: string }>, E, R>) =>
      rows.pipe(Effect.flatMap(decodeBugs), Effect.map((bugs) => Option.fromNullable(bugs[0])))

    const current = <E, R>(rows: Effect.Effect<ReadonlyArray<{ readonly json: string; readonly lease_held: boolean | null }>, E, R>) =>
      rows.pipe(
        Effect.flatMap((rs) =>
          rs.length === 0
            ? Effect.succeed(Option.none<Current>())
            : decodeBugs(rs).pipe(Effect.map(([bug]) => Option.some({ bug, json: rs[0].json, leaseHeld: rs[0].lease_held === true })))
        )
      )

    const find = (id: BugId) => first(sql<{ json: string }>`select ${bugSelect} from bug_bots b where b.id = ${id}`)

    /** The bug as it is now (no lock: `write` checks its version), and whether `leaseToken` names its live lease. */
    const read = (id: BugId, leaseToken?: string) =>
      current(sql<{ json: string; lease_held: boolean | null }>`
        select ${bugSelect},
          ${leaseToken === undefined ? sql`null` : sql`b.lease_token = ${leaseToken}::uuid and b.lease_expires_at > now()`} as lease_held
        from bug_bots b where b.id = ${id}`)

    /** The bug's wire JSON, undecoded, with what authorizing a read of it needs. */
    const findJson = (id: BugId) =>
      sql<{ json: string; village_id: VillageId; assigned_agent_id: AgentId | null }>`
        select ${bugSelect}, b.village_id, b.assigned_agent_id from bug_bots b where b.id = ${id}`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )


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

    /** Inserts a bug with its first lifecycle event and its realtime event, in one statement. */
    const insert = (bug: NewBug, status: BugStatus, entry: LifecycleEntry, author: Author) => {
      const { sla_seconds, report, ...columns } = bug
      const row = {
        id: randomUUID(),
        ...columns,
        status,
        metadata: sql.json(bug.metadata),
        ...(report === undefined
          ? {}
          : {
              first_seen: report.seen,
              last_seen: report.seen,
              last_release: report.release,
              environment: report.environment,
              trace_id: report.trace_id,
              request_id: report.request_id,
              release_sha: report.release_sha
            })
      }
      const published = log.appendFromRow("bug_bot_spawn", bug, "b", bugSummary, author.correlationId)
      // The deadline counts from creation, by the database's clock (its `now()` is `created_at`'s).
      const due = sla_seconds === null ? sql`null` : sql`now() + make_interval(secs => ${sla_seconds})`
      const resolved = isTerminal(status) ? sql`now()` : sql`null`
      return sql<{ json: string; lease_held: null }>`
        with b as (
          insert into bug_bots (${sql.literal(Object.keys(row).join(", "))}, sla_due_at, resolved_at)
          values (${sql.csv(Object.values(row).map((value) => sql`${value}`))}, ${due}, ${resolved}) returning *),
        logged as (insert into bug_bot_events (${eventColumns}) select ${eventValues(sql`b.id`, entry, author)} from b),
        published as (${published.insert})
        ${followUpsOf({ before: null, status, entry, event: "bug_bot_spawn", actor: author.actor, correlationId: author.correlationId })}
        select ${bugSelect}, null as lease_held, ${published.notify("published")} from b, published`.pipe(
        current,
        Effect.map(Option.getOrThrow)
      )
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
      if (patch.sla_due_at !== undefined) set.push(sql`sla_due_at = ${patch.sla_due_at}`)
      if (patch.resolution_notes !== undefined) set.push(sql`resolution_notes = ${patch.resolution_notes}`)
      if (patch.commit_shas !== undefined) {
        set.push(sql`commit_shas = array(select jsonb_array_elements_text(${JSON.stringify(patch.commit_shas)}::text::jsonb))`)
      }
      if (patch.duplicate_of_id !== undefined) set.push(sql`duplicate_of_id = ${patch.duplicate_of_id}`)
      if (patch.resolved_in_release !== undefined) set.push(sql`resolved_in_release = ${patch.resolved_in_release}`)
      if (patch.lease !== undefined) {
        set.push(
          patch.lease === null
            ? sql`lease_token = null, lease_expires_at = null`
            : sql`lease_token = ${patch.lease.token}, lease_expires_at = now() + make_interval(secs => ${patch.lease.seconds})`
        )
      }
      return set
    }

    /**
     * Applies `patch` (version + 1) to the bug as it was read, with its lifecycle event and its
     * realtime event, in one statement. It is a compare-and-set: nothing is written when the bug has
     * moved on since (another version), or when `leaseToken` no longer names its live lease; then
     * None, and the caller reads again. The bug's JSON and its lease's end otherwise.
     */
    const write = (bug: Bug, patch: BugPatch, entry: LifecycleEntry, author: Author, event: RealtimeEventName, leaseToken?: string) => {
      const published = log.appendFromRow(event, bug, "b", bugSummary, author.correlationId)
      const leased = leaseToken === undefined ? sql`` : sql`and lease_token = ${leaseToken}::uuid and lease_expires_at > now()`
      return sql<{ json: string; lease_expires_at: Date | null }>`
        with b as (
          update bug_bots set ${sql.csv([...assignments(patch), sql`version = version + 1`, sql`updated_at = now()`])}
          where id = ${bug.id} and version = ${bug.version} ${leased} returning *),
        logged as (insert into bug_bot_events (${eventColumns}) select ${eventValues(sql`b.id`, entry, author)} from b),
        published as (${published.insert})
        ${followUpsOf({ before: bug, status: patch.status ?? bug.status, entry, event, actor: author.actor, correlationId: author.correlationId })}
        select ${bugSelect}, b.lease_expires_at, ${published.notify("published")} from b, published`.pipe(
        Effect.map((rows) =>
          Option.map(Option.fromNullable(rows[0]), (row) => ({
            json: row.json,
            leaseExpiresAt: Option.map(Option.fromNullable(row.lease_expires_at), (date) => DateTime.unsafeMake(date))
          }))
        )
      )
    }

    /** A lifecycle event that is not a change of the bug (a note). */
    /** A lifecycle event that is not a change of the bug (a note); with `leaseToken`, only while that lease is live (else None). */
    const appendEvent = (id: BugId, entry: LifecycleEntry, author: Author, leaseToken?: string) =>
      sql<{ json: string }>`
        with e as (
          insert into bug_bot_events (${eventColumns})
          select ${eventValues(sql`${id}`, entry, author)}
          ${leaseToken === undefined ? sql`` : sql`where exists (
            select 1 from bug_bots where id = ${id} and lease_token = ${leaseToken}::uuid and lease_expires_at > now())`}
          returning *)
        select ${eventSelect} from e`.pipe(
        Effect.flatMap(decodeEvents),
        Effect.map((events) => Option.fromNullable(events[0]))
      )

    /** Lifecycle events oldest first; `afterSeq` is the position of the previous page's last. */
    const events = (id: BugId, limit: number, afterSeq: number | undefined) =>
      sql<{ json: string; seq: string }>`
        select ${eventSelect}, e.seq from bug_bot_events e
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
     * row the bug's wire object with its sort key; `after` is the sort key of the previous page's last.
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
      // Rows as arrays (the columns in `bugFields` order, then the sort key): no object per row to build and read.
      return sql`
        select ${sql.literal(bugColumns("b"))}, ${sql.literal(cursorTimestamp(`b.${spec.column}`))} as cursor_ts,
          b.severity_rank as cursor_rank from bug_bots b
        where ${sql.and(conds)}
        order by ${order}
        limit ${limit + 1}`.values.pipe(
        Effect.map((rows) =>
          rows.map((row) => {
            const bug = wireBug(row)
            const id = bug.id as string
            const ts = row[bugFields.length] as string
            return { bug, key: spec.ranked ? [row[bugFields.length + 1] as number, ts, id] : [ts, id] }
          })
        )
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
      return current(sql<{ json: string; lease_held: null }>`
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
        select ${bugSelect}, null as lease_held
        from (select * from free union all select * from mine) b
        order by b.severity_rank, b.created_at, b.id limit 1`)
    }

    /** Moves the end of a live lease to `seconds` from now; its new expiry, if it was held. */
    const extendLease = (id: BugId, token: string, seconds: number) =>
      sql<{ expires_at: Date }>`
        update bug_bots set lease_expires_at = now() + make_interval(secs => ${seconds})
        where id = ${id} and lease_token = ${token}::uuid and lease_expires_at > now()
        returning lease_expires_at as expires_at`.pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (row) => DateTime.unsafeMake(row.expires_at)))
      )

    /**
     * Adds counted error reports to their bugs: counters and the latest telemetry. Not a change of
     * the bug's lifecycle: no version, no event (a storm would otherwise flood every room).
     */
    const addCounts = (counted: ReadonlyArray<Counted>) =>
      counted.length === 0
        ? Effect.void
        : sql`
            update bug_bots b set
              occurrences = b.occurrences + c.count,
              first_seen = least(b.first_seen, c.first_seen),
              last_seen = greatest(b.last_seen, c.last_seen),
              last_release = coalesce(c.release, b.last_release),
              environment = coalesce(c.environment, b.environment),
              trace_id = coalesce(c.trace_id, b.trace_id),
              request_id = coalesce(c.request_id, b.request_id),
              release_sha = coalesce(c.release_sha, b.release_sha)
            from jsonb_to_recordset(${JSON.stringify(counted)}::text::jsonb) as c(
              bug_id uuid, count int, first_seen timestamptz, last_seen timestamptz, release text, environment text,
              trace_id text, request_id text, release_sha text)
            where b.id = c.bug_id`.pipe(Effect.asVoid)

    /** The report fields of a bug that has just lost some of its reports (after an unmerge), counted again from `counts`. */
    const setCounts = (id: BugId, counts: Omit<Counted, "bug_id">) =>
      sql`
        update bug_bots set occurrences = ${counts.count}, first_seen = ${counts.first_seen}::timestamptz,
          last_seen = ${counts.last_seen}::timestamptz, last_release = ${counts.release}, environment = ${counts.environment},
          trace_id = ${counts.trace_id}, request_id = ${counts.request_id}, release_sha = ${counts.release_sha}
        where id = ${id}`.pipe(Effect.asVoid)

    /**
     * Open bugs past their SLA deadline that `noted` (a table of `(bug_id, sla_due_at)`) does not
     * list yet, earliest first; each with its deadline as PostgreSQL's exact text (microseconds).
     */
    const overdue = (limit: number, noted: string) =>
      sql<{ json: string; due: string }>`
        select ${bugSelect}, b.sla_due_at::text as due from bug_bots b
        where b.sla_due_at <= now() and b.status not in ('resolved', 'closed')
          and not exists (select 1 from ${sql(noted)} n where n.bug_id = b.id and n.sla_due_at = b.sla_due_at)
        order by b.sla_due_at limit ${limit}`.pipe(
        Effect.flatMap((rows) => decodeBugs(rows).pipe(Effect.map((bugs) => bugs.map((bug, i) => ({ bug, due: rows[i].due })))))
      )

    /** Up to `limit` bugs whose lease has run out, locked (others' are skipped). */
    const lockExpiredLeases = (limit: number) =>
      sql<{ id: BugId }>`
        select id from bug_bots where lease_expires_at <= now()
        order by lease_expires_at limit ${limit}
        for update skip locked`.pipe(Effect.map((rows) => rows.map((row) => row.id)))

    /** Bugs held under a live lease (agents' claims). */
    const leasesActive = sql<{ count: number }>`select count(*)::int as count from bug_bots where lease_expires_at > now()`.pipe(
      Effect.map((rows) => rows[0]?.count ?? 0)
    )

    /**
     * A village's bug counts (contract §12) in one statement, each part on an index: by status
     * (`bug_bots_village_status_created_idx`), open ones by severity (`bug_bots_village_open_severity_idx`),
     * open past their SLA (`bug_bots_sla_idx`), created (`bug_bots_village_created_idx`) and resolved
     * (`bug_bots_village_resolved_idx`) lately, and the mean time to resolution over 30 days.
     */
    const stats = (villageId: VillageId) =>
      sql<{ json: string }>`
        select json_build_object(
          'by_status', (select coalesce(json_object_agg(status, n), '{}'::json)
                        from (select status, count(*)::int as n from bug_bots where village_id = ${villageId} group by status) s),
          'by_severity', (select coalesce(json_object_agg(
                            case severity_rank when 0 then 'critical' when 1 then 'high' when 2 then 'medium' when 3 then 'low' else 'none' end, n),
                            '{}'::json)
                          from (select severity_rank, count(*)::int as n from bug_bots
                                where village_id = ${villageId} and status not in ('resolved', 'closed') group by severity_rank) s),
          'open_past_sla', (select count(*)::int from bug_bots
                            where village_id = ${villageId} and status not in ('resolved', 'closed') and sla_due_at < now()),
          'mttr_seconds_30d', (select avg(extract(epoch from resolved_at - created_at))::float8 from bug_bots
                               where village_id = ${villageId} and resolved_at > now() - interval '30 days'
                                 and status in ('resolved', 'closed') and duplicate_of_id is null),
          'created_7d', (select count(*)::int from bug_bots where village_id = ${villageId} and created_at > now() - interval '7 days'),
          'resolved_7d', (select count(*)::int from bug_bots where village_id = ${villageId} and resolved_at > now() - interval '7 days')
        )::text as json`.pipe(Effect.map((rows) => JSON.parse(rows[0].json) as Record<string, unknown>))

    /** The titles of bugs, by id. */
    const titles = (ids: ReadonlyArray<BugId>) =>
      ids.length === 0
        ? Effect.succeed(new Map<string, string>())
        : sql<{ id: BugId; title: string }>`select id, title from bug_bots where id in ${sql.in(ids)}`.pipe(
            Effect.map((rows) => new Map(rows.map((row) => [row.id, row.title])))
          )

    return {
      find, findJson, read, findUpstream, isInVillage, insert, write, appendEvent, events, list, claimable, extendLease,
      lockExpiredLeases, addCounts, setCounts, leasesActive, stats, titles, overdue
    } as const
  }),
  dependencies: [EventLog.Default, BugFollowUps.Default]
}) {}
