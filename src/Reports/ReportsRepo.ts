import { PgClient } from "@effect/sql-pg"
import { Effect, Option } from "effect"
import { createHash, randomBytes } from "node:crypto"
import type { BugId, IngestKeyId, OccurrenceId, RepoId } from "../Domain/Ids.js"
import { type GroupingComponent, IngestKey, Occurrence } from "../Domain/Report.js"
import type { Counted } from "../Bugs/BugsRepo.js"
import { decodeJsonRows, iso, jsonObject } from "../Sql/Json.js"
import type { ReportEvent } from "./Event.js"

/** An occurrence to store: the report, where it groups, and the stored event. */
export interface NewOccurrence {
  readonly repoId: RepoId
  readonly eventId: string
  readonly fingerprint: string
  readonly report: ReportEvent
  /** The event as stored (JSON text). */
  readonly event: string
}

const keyHash = (publicKey: string) => createHash("sha256").update(publicKey).digest()

const occurrenceJson = (alias: string) =>
  jsonObject(alias, [
    "id", "bug_id", "event_id", "fingerprint", ["received_at", iso(`${alias}.received_at`)], ["occurred_at", iso(`${alias}.occurred_at`)],
    "release", "environment", "trace_id", "request_id", "tags", "event"
  ])
const decodeOccurrences = decodeJsonRows(Occurrence)
const decodeKeys = decodeJsonRows(IngestKey)

/** PostgreSQL's jsonb refuses `\u0000`: stored as U+FFFD. */
const storable = (json: string) => (json.includes("\\u0000") ? json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, "$1\\ufffd") : json)

/**
 * The one owner of `ingest_keys`, `fingerprints`, `occurrences` and `releases` (contract §9). The
 * rules (grouping, regressions) live in `Grouping.ts` and `Reports.ts`.
 */
export class ReportsRepo extends Effect.Service<ReportsRepo>()("bugbots/ReportsRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient

    const keySelect = (projectId: number) =>
      sql.literal(
        `${jsonObject("k", [
          "id", "repo_id", "name", ["project_id", String(Math.trunc(projectId))], ["public_key_prefix", "k.key_prefix"],
          ["created_at", iso("k.created_at")], ["revoked_at", iso("k.revoked_at")]
        ])}::text as json`
      )

    /** A new key of the repo: its public key is returned once, only its hash is kept. */
    const createKey = (repoId: RepoId, name: string, projectId: number) => {
      const publicKey = randomBytes(16).toString("hex")
      return sql<{ json: string }>`
        with k as (
          insert into ingest_keys (repo_id, name, key_hash, key_prefix)
          values (${repoId}, ${name}, ${keyHash(publicKey)}, ${publicKey.slice(0, 8)}) returning *)
        select ${keySelect(projectId)} from k`.pipe(
        Effect.flatMap(decodeKeys),
        Effect.map(([key]) => ({ key, publicKey }))
      )
    }

    const listKeys = (repoId: RepoId, projectId: number) =>
      sql<{ json: string }>`select ${keySelect(projectId)} from ingest_keys k where k.repo_id = ${repoId} order by k.created_at, k.id`.pipe(
        Effect.flatMap(decodeKeys)
      )

    /** Revokes the key; false when the repo has no such live key. */
    const revokeKey = (repoId: RepoId, id: IngestKeyId) =>
      sql`update ingest_keys set revoked_at = now() where id = ${id} and repo_id = ${repoId} and revoked_at is null returning id`.pipe(
        Effect.map((rows) => rows.length > 0)
      )

    /** The live key with this public key, if any: its id and repo. */
    const keyOf = (publicKey: string) =>
      sql<{ id: IngestKeyId; repo_id: RepoId }>`
        select id, repo_id from ingest_keys where key_hash = ${keyHash(publicKey)} and revoked_at is null`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )

    const occurrenceValues = (o: NewOccurrence, bugId: ReturnType<typeof sql.literal> | BugId) => {
      const r = o.report
      return sql`${o.repoId}, ${bugId}, ${o.eventId}, ${o.fingerprint}, ${r.occurred_at}, ${r.release}, ${r.environment},
        ${r.trace_id}, ${r.request_id}, ${sql.json(r.tags)}, ${storable(o.event)}::text::jsonb`
    }
    const occurrenceColumns = sql.literal(
      "repo_id, bug_id, event_id, fingerprint, occurred_at, release, environment, trace_id, request_id, tags, event"
    )

    const rememberRelease = (repoId: RepoId, release: string | null) =>
      sql`select ${repoId}::uuid, ${release} where ${release}::text is not null`

    /**
     * The common case, in one statement: a fingerprint known already. Stores the occurrence on its
     * bug (once: the same event id again stores nothing) and remembers the release; nothing on the
     * bug row itself, which a storm of one error would otherwise make hot. None when the
     * fingerprint is new. `unlessResolved`: a bug that is `resolved` (which the report may reopen)
     * gets nothing stored, and its caller goes the transactional way (`resolved: true`).
     */
    const storeKnown = (o: NewOccurrence, unlessResolved: boolean) =>
      sql<{ bug_id: BugId; occurrence_id: OccurrenceId | null; resolved: boolean }>`
        with fp as (
          select f.bug_id, b.status = 'resolved' as resolved from fingerprints f join bug_bots b on b.id = f.bug_id
          where f.repo_id = ${o.repoId} and f.fingerprint = ${o.fingerprint}),
        rel as (
          insert into releases (repo_id, version) ${rememberRelease(o.repoId, o.report.release)}
          and not (${unlessResolved} and (select resolved from fp)) on conflict do nothing),
        occ as (
          insert into occurrences (${occurrenceColumns})
          select ${occurrenceValues(o, sql.literal("fp.bug_id"))} from fp where not (${unlessResolved} and fp.resolved)
          on conflict (repo_id, event_id) do nothing
          returning id)
        select fp.bug_id, (select id from occ) as occurrence_id, fp.resolved from fp`.pipe(Effect.map((rows) => Option.fromNullable(rows[0])))

    /** Serialises the first reports of a new fingerprint (in the caller's transaction): one bug for them all. */
    const lockFingerprint = (repoId: RepoId, fingerprint: string) =>
      sql`select pg_advisory_xact_lock(hashtextextended(${`fingerprint:${repoId}:${fingerprint}`}, 0))`

    /** Maps a new fingerprint to the bug it created, and stores its first occurrence there. */
    const storeFirst = (o: NewOccurrence, bugId: BugId, components: ReadonlyArray<GroupingComponent>) =>
      sql<{ occurrence_id: OccurrenceId | null }>`
        with fp as (
          insert into fingerprints (repo_id, fingerprint, bug_id, components)
          values (${o.repoId}, ${o.fingerprint}, ${bugId}, ${JSON.stringify(components)}::text::jsonb)),
        rel as (insert into releases (repo_id, version) ${rememberRelease(o.repoId, o.report.release)} on conflict do nothing),
        occ as (
          insert into occurrences (${occurrenceColumns}) values (${occurrenceValues(o, bugId)})
          on conflict (repo_id, event_id) do nothing
          returning id)
        select (select id from occ) as occurrence_id`.pipe(Effect.map((rows) => rows[0].occurrence_id))

    /** An occurrence stored before under this event id (a duplicate report). */
    const findByEventId = (repoId: RepoId, eventId: string) =>
      sql<{ id: OccurrenceId; bug_id: BugId; fingerprint: string }>`
        select id, bug_id, fingerprint from occurrences where repo_id = ${repoId} and event_id = ${eventId}`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )

    /** Whether `release` was first seen after `than` in the repo (an unknown `than` counts as older). */
    const isNewerRelease = (repoId: RepoId, release: string | null, than: string) =>
      release === null
        ? Effect.succeed(false)
        : sql<{ newer: boolean }>`
            select coalesce((select r.first_seen > t.first_seen from releases r, releases t
              where r.repo_id = ${repoId} and r.version = ${release} and t.repo_id = ${repoId} and t.version = ${than}),
              ${release} <> ${than}) as newer`.pipe(Effect.map((rows) => rows[0].newer))

    /**
     * Takes up to `limit` occurrences not yet counted into their bugs (others' are skipped) and marks
     * them counted; what they add to each bug. In the caller's transaction, with the bugs' update.
     */
    const takeUncounted = (limit: number) =>
      sql<Counted>`
        with batch as (
          select id from occurrences where not counted order by seq limit ${limit} for update skip locked),
        marked as (
          update occurrences o set counted = true from batch where o.id = batch.id
          returning o.bug_id, o.seq, coalesce(o.occurred_at, o.received_at) as seen, o.release, o.environment, o.trace_id,
            o.request_id, o.tags ->> 'release_sha' as release_sha)
        select bug_id, count(*)::int as count, ${sql.literal(iso("min(seen)"))} as first_seen, ${sql.literal(iso("max(seen)"))} as last_seen,
          (array_agg(release order by seq desc) filter (where release is not null))[1] as release,
          (array_agg(environment order by seq desc) filter (where environment is not null))[1] as environment,
          (array_agg(trace_id order by seq desc) filter (where trace_id is not null))[1] as trace_id,
          (array_agg(request_id order by seq desc) filter (where request_id is not null))[1] as request_id,
          (array_agg(release_sha order by seq desc) filter (where release_sha is not null))[1] as release_sha
        from marked group by bug_id`

    /** What a bug's occurrences add up to (after some moved away). */
    const countsOf = (bugId: BugId) =>
      sql<Omit<Counted, "bug_id">>`
        select count(*)::int as count, ${sql.literal(iso("min(coalesce(occurred_at, received_at))"))} as first_seen,
          ${sql.literal(iso("max(coalesce(occurred_at, received_at))"))} as last_seen,
          (array_agg(release order by seq desc) filter (where release is not null))[1] as release,
          (array_agg(environment order by seq desc) filter (where environment is not null))[1] as environment,
          (array_agg(trace_id order by seq desc) filter (where trace_id is not null))[1] as trace_id,
          (array_agg(request_id order by seq desc) filter (where request_id is not null))[1] as request_id,
          (array_agg(tags ->> 'release_sha' order by seq desc) filter (where tags ? 'release_sha'))[1] as release_sha
        from occurrences where bug_id = ${bugId} and counted`.pipe(Effect.map((rows) => rows[0]))

    /** A bug's occurrences, newest first. */
    const occurrences = (bugId: BugId, limit: number, beforeSeq: number | undefined) =>
      sql<{ json: string; seq: string }>`
        select ${sql.literal(occurrenceJson("o"))}::text as json, o.seq from occurrences o
        where o.bug_id = ${bugId} ${beforeSeq === undefined ? sql`` : sql`and o.seq < ${beforeSeq}`}
        order by o.seq desc limit ${limit + 1}`.pipe(
        Effect.flatMap((rows) =>
          decodeOccurrences(rows).pipe(Effect.map((items) => items.map((occurrence, i) => ({ occurrence, seq: Number(rows[i].seq) }))))
        )
      )

    /** A bug's latest stored events, newest first (what an analysis reads). */
    const recent = (bugId: BugId, limit: number) =>
      sql<{ event: string; release: string | null; received_at: Date }>`
        select o.event::text as event, o.release, o.received_at from occurrences o
        where o.bug_id = ${bugId} order by o.seq desc limit ${limit}`

    /** The fingerprints mapped to a bug, the first (the one that created it) first. */
    const fingerprintsOf = (bugId: BugId) =>
      sql<{ fingerprint: string; components: ReadonlyArray<GroupingComponent> }>`
        select fingerprint, components from fingerprints where bug_id = ${bugId} order by created_at, fingerprint`

    /** Every fingerprint of `from` now leads to `into`: later reports land there (a merge is learnt). */
    const moveFingerprints = (from: BugId, into: BugId) => sql`update fingerprints set bug_id = ${into} where bug_id = ${from}`.pipe(Effect.asVoid)

    /** The fingerprint and its occurrences move to `into` (an unmerge). */
    const moveFingerprint = (repoFingerprint: { readonly bugId: BugId; readonly fingerprint: string }, into: BugId) =>
      sql`
        with moved as (update fingerprints set bug_id = ${into} where bug_id = ${repoFingerprint.bugId} and fingerprint = ${repoFingerprint.fingerprint})
        update occurrences set bug_id = ${into} where bug_id = ${repoFingerprint.bugId} and fingerprint = ${repoFingerprint.fingerprint}`.pipe(
        Effect.asVoid
      )

    /** The newest occurrence of a fingerprint of the bug (to name a bug split out from it). */
    const latestOf = (bugId: BugId, fingerprint: string) =>
      sql<{ event: string; fingerprint_components: ReadonlyArray<GroupingComponent> }>`
        select o.event::text as event, f.components as fingerprint_components from occurrences o
        join fingerprints f on f.repo_id = o.repo_id and f.fingerprint = o.fingerprint
        where o.bug_id = ${bugId} and o.fingerprint = ${fingerprint} order by o.seq desc limit 1`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )

    /** The fingerprints reported most in the last 7 days in `repoIds` (`occurrences_repo_received_idx`), most first. */
    const topFingerprints = (repoIds: ReadonlyArray<RepoId>, limit: number) =>
      repoIds.length === 0
        ? Effect.succeed([])
        : sql<{ fingerprint: string; bug_id: BugId; occurrences_7d: number; last_seen: string }>`
            select fingerprint, bug_id, count(*)::int as occurrences_7d, ${sql.literal(iso("max(received_at)"))} as last_seen
            from occurrences
            where repo_id in ${sql.in(repoIds)} and received_at > now() - interval '7 days'
            group by fingerprint, bug_id
            order by occurrences_7d desc, max(received_at) desc
            limit ${limit}`

    return {
      topFingerprints,
      createKey, listKeys, revokeKey, keyOf, storeKnown, lockFingerprint, storeFirst, findByEventId, isNewerRelease,
      takeUncounted, countsOf, occurrences, fingerprintsOf, moveFingerprints, moveFingerprint, latestOf, recent
    } as const
  })
}) {}
