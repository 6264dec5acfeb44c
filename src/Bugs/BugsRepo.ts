import { PgClient } from "@effect/sql-pg"
import { Effect, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { AgentState } from "../Domain/Agent.js"
import { Bug, BugEvent, BugStatus, type ActorType, type BugEventKind, Severity } from "../Domain/Bug.js"
import { AgentId, VillageId } from "../Domain/Ids.js"
import { cursorTimestamp } from "../Domain/Page.js"
import { rowDecoder } from "../Sql/Rows.js"

export interface BugInsert {
  readonly village_id: string
  readonly repo_id: string
  readonly provider: Bug["provider"]
  readonly source: Bug["source"]
  readonly issue_id: number | null
  readonly issue_number: number | null
  readonly title: string
  readonly description: string | null
  readonly status: BugStatus
  readonly severity: Severity | null
  readonly category: string | null
  readonly metadata: Record<string, unknown>
}

/** Columns a change may set; `version` and `updated_at` move with every change. */
export interface BugPatch {
  readonly status?: BugStatus
  readonly assigned_agent_id?: string | null
  readonly title?: string
  readonly description?: string | null
  readonly severity?: Severity | null
  readonly category?: string | null
  readonly metadata?: Record<string, unknown>
  readonly resolved_at?: Date | null
  readonly lease_token?: string | null
  readonly lease_expires_at?: Date | null
}

export interface LifecycleEntry {
  readonly kind: BugEventKind
  readonly from_status?: BugStatus | null
  readonly to_status?: BugStatus | null
  readonly note?: string | null
  readonly data?: Record<string, unknown>
}

export interface Actor {
  readonly type: ActorType
  readonly id: string | null
}

/** Lifecycle events to append, by whom, under which correlation id. */
export interface Log {
  readonly actor: Actor
  readonly entries: ReadonlyArray<LifecycleEntry>
  readonly correlationId: string | null
}

export const BugSort = Schema.Literal("created_at", "-created_at", "updated_at", "-updated_at", "severity")
export type BugSort = typeof BugSort.Type

export interface BugFilters {
  readonly status?: ReadonlyArray<BugStatus>
  readonly repo_id?: string
  readonly assigned_agent_id?: string
  readonly severity?: Severity
  readonly source?: Bug["source"]
}

const decodeBug = rowDecoder(Bug)
const decodeEvent = rowDecoder(BugEvent)
const AgentRow = Schema.Struct({ id: AgentId, village_id: VillageId, state: AgentState })

/** SQL of bug bots and their lifecycle events; the rules live in `Bugs.ts`. */
export class BugsRepo extends Effect.Service<BugsRepo>()("bugbots/BugsRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient

    const one = <E, R>(rows: Effect.Effect<ReadonlyArray<unknown>, E, R>) =>
      rows.pipe(Effect.flatMap((rs) => (rs.length === 0 ? Effect.succeed(undefined) : decodeBug(rs[0]))))

    const findById = (id: string) => one(sql`select * from bug_bots where id = ${id}`)
    const lockById = (id: string) => one(sql`select * from bug_bots where id = ${id} for update`)

    /**
     * Inserts a bug and its first lifecycle events in one statement. The id is chosen here so the
     * events can name it; their foreign key is checked at the end of the statement.
     */
    const insert = (row: BugInsert, log: Log) => {
      const id = randomUUID()
      const created = sql`insert into bug_bots ${sql.insert({ id, ...row, metadata: sql.json(row.metadata) })} returning *`
      return one(
        sql`with created as (${created}), logged as (insert into bug_bot_events ${sql.insert(eventRows(id, log))}) select * from created`
      ).pipe(Effect.map((bug) => bug!))
    }

    const eventRows = (bugId: string, log: Log) =>
      log.entries.map((e) => ({
        bug_id: bugId,
        kind: e.kind,
        actor_type: log.actor.type,
        actor_id: log.actor.id,
        from_status: e.from_status ?? null,
        to_status: e.to_status ?? null,
        note: e.note ?? null,
        data: sql.json(e.data ?? {}),
        correlation_id: log.correlationId
      }))

    /** Applies `patch` (version + 1) and appends its lifecycle events, in one statement. */
    const update = (id: string, patch: BugPatch, log: Log) => {
      const set = patch.metadata === undefined ? patch : { ...patch, metadata: sql.json(patch.metadata) }
      const updated = sql`update bug_bots set ${sql.update(set as Record<string, unknown>)}, version = version + 1, updated_at = now() where id = ${id} returning *`
      return one(
        log.entries.length === 0
          ? updated
          : sql`with updated as (${updated}), logged as (insert into bug_bot_events ${sql.insert(eventRows(id, log))}) select * from updated`
      ).pipe(Effect.map((bug) => bug!))
    }

    const appendEvents = (bugId: string, log: Log) =>
      log.entries.length === 0
        ? Effect.succeed([] as ReadonlyArray<BugEvent>)
        : sql`insert into bug_bot_events ${sql.insert(eventRows(bugId, log))} returning *`.pipe(Effect.flatMap(Effect.forEach(decodeEvent)))

    const findAgent = (id: string) =>
      sql`select id, village_id, state from agents where id = ${id}`.pipe(
        Effect.flatMap((rs) => (rs.length === 0 ? Effect.succeed(undefined) : Schema.decodeUnknown(AgentRow)(rs[0]).pipe(Effect.orDie)))
      )

    const sortSpec = (sort: BugSort) => {
      switch (sort) {
        case "created_at":
          return { column: "created_at", dir: "asc" as const }
        case "-created_at":
          return { column: "created_at", dir: "desc" as const }
        case "updated_at":
          return { column: "updated_at", dir: "asc" as const }
        case "-updated_at":
          return { column: "updated_at", dir: "desc" as const }
        case "severity":
          return { column: "created_at", dir: "desc" as const, bySeverity: true }
      }
    }

    /** One page in keyset order; `after` is the sort key of the last row of the previous page. */
    const list = (
      villageId: string,
      filters: BugFilters,
      sort: BugSort,
      limit: number,
      after: ReadonlyArray<string | number> | undefined
    ) => {
      const spec = sortSpec(sort)
      const cmp = spec.dir === "desc" ? "<" : ">"
      const conds = [sql`village_id = ${villageId}`]
      if (filters.status && filters.status.length > 0) conds.push(sql`status in ${sql.in(filters.status)}`)
      if (filters.repo_id) conds.push(sql`repo_id = ${filters.repo_id}`)
      if (filters.assigned_agent_id) conds.push(sql`assigned_agent_id = ${filters.assigned_agent_id}`)
      if (filters.severity) conds.push(sql`severity = ${filters.severity}`)
      if (filters.source) conds.push(sql`source = ${filters.source}`)
      if (after !== undefined) {
        const keyset = sql`(${sql(spec.column)}, id) ${sql.literal(cmp)} (${after[after.length - 2]}::timestamptz, ${after[after.length - 1]}::uuid)`
        conds.push(
          "bySeverity" in spec
            ? sql`(severity_rank > ${after[0]} or (severity_rank = ${after[0]} and ${keyset}))`
            : keyset
        )
      }
      const order = "bySeverity" in spec
        ? sql.literal(`severity_rank asc, created_at desc, id desc`)
        : sql.literal(`${spec.column} ${spec.dir}, id ${spec.dir}`)
      return sql<{ _ts: string; severity_rank: number; id: string }>`
        select *, ${sql.literal(cursorTimestamp(spec.column))} as _ts from bug_bots
        where ${sql.and(conds)}
        order by ${order}
        limit ${limit + 1}`.pipe(
        Effect.flatMap((rows) =>
          Effect.forEach(rows, (row) =>
            decodeBug(row).pipe(
              Effect.map((bug) => ({
                bug,
                key: "bySeverity" in spec ? [row.severity_rank, row._ts, row.id] : [row._ts, row.id]
              }))
            )
          )
        )
      )
    }

    const events = (bugId: string, limit: number, afterSeq: number | undefined) =>
      sql<{ seq: number }>`
        select * from bug_bot_events
        where bug_id = ${bugId} ${afterSeq === undefined ? sql`` : sql`and seq > ${afterSeq}`}
        order by seq asc limit ${limit + 1}`.pipe(
        Effect.flatMap(Effect.forEach((row) => decodeEvent(row).pipe(Effect.map((event) => ({ event, seq: Number(row.seq) })))))
      )

    return { findById, lockById, insert, update, appendEvents, findAgent, list, events } as const
  })
}) {}
