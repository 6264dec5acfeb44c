import { PgClient } from "@effect/sql-pg"
import type { SqlError } from "@effect/sql/SqlError"
import type { Fragment } from "@effect/sql/Statement"
import {
  Cause,
  Chunk,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  Option,
  Queue,
  Schedule,
  ScheduleDecision,
  ScheduleIntervals,
  type Scope,
  Stream
} from "effect"
import { withCorrelationId } from "../Correlation.js"
import { decodeCursor, SeqCursor, toPage } from "../Domain/Page.js"
import { Shutdown } from "../Shutdown.js"

/**
 * The one jobs engine (the `jobs` table): every kind of background work — GitHub deliveries, bot
 * actions, analyses, notifications — is a row, enqueued in the transaction that decided it,
 * claimed under a lease (`FOR UPDATE SKIP LOCKED`, so every instance shares the work), retried on
 * its kind's named backoff schedule with attempts counted when an attempt fails, and dead-lettered
 * (`failed`) when they run out. A NOTIFY at commit wakes every instance's workers; a short poll
 * covers lost notifications. A lease that runs out counts as a failed attempt (its worker died), so
 * a job that kills its worker every time is dead-lettered too.
 */

export type JobStatus = "pending" | "running" | "done" | "failed" | "ignored"

/** A job to enqueue. `payload` is JSON text, stored as it is (parsed once, by PostgreSQL). */
export interface NewJob {
  readonly kind: string
  /** Deduplication within the kind: a second job with the same key is not stored. */
  readonly key: string | null
  readonly payload: string
  /** Small fields shown when jobs are listed. */
  readonly meta: Record<string, unknown>
  /** `ignored`: stored for the record, never run. */
  readonly status?: "pending" | "ignored"
  readonly maxAttempts: number
  readonly correlationId: string | null
}

/** A job held under a lease: only the holder of `lease_token` may settle it. */
export interface ClaimedJob {
  readonly id: string
  readonly kind: string
  readonly key: string | null
  /** The payload as JSON text. */
  readonly payload: string
  readonly meta: Record<string, unknown>
  /** Failed attempts so far. */
  readonly attempts: number
  readonly max_attempts: number
  readonly lease_token: string
  readonly lease_expires_at: Date
  readonly correlation_id: string | null
}

/** What became of an attempt. */
export type Outcome =
  | { readonly _tag: "Done"; readonly result?: unknown }
  | { readonly _tag: "Retry"; readonly error: string; readonly after?: Duration.Duration | undefined }
  | { readonly _tag: "Failed"; readonly error: string }

/** Which jobs of a kind: by id, by key, or by a field of their `meta`. */
export type JobSelector =
  | { readonly id: string }
  | { readonly key: string }
  | { readonly meta: { readonly field: string; readonly value: string } }

/** The channel of the NOTIFY that announces due jobs; the payload is the kind. */
const jobsChannel = "bugbots_jobs"
/** The safety net under NOTIFY: due jobs and expired leases are looked for this often. */
const pollInterval = Duration.seconds(1)
/** NOTIFY from the batched enqueuer is itself batched: a committing NOTIFY takes a global lock. */
const announceInterval = Duration.millis(50)
/** Group commit: writers working at once, and the most jobs in one batch. */
const insertWriters = 4
const maxBatch = 64
const sweepBatch = 100
const maxErrorLength = 4000

/** PostgreSQL's jsonb refuses `\u0000`: stored as U+FFFD (a delivery's signature was checked before). */
const storable = (json: string) => (json.includes("\\u0000") ? json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, "$1\\ufffd") : json)

/**
 * The wait `schedule` prescribes after the `failures`-th failure; None once it is exhausted. Kinds
 * name their schedule (exponential with jitter, capped); the waits are written to the row, so a
 * retry survives a restart.
 */
export const retryDelay = <Out>(schedule: Schedule.Schedule<Out, unknown>, failures: number) =>
  Effect.gen(function* () {
    const now = Date.now()
    let state = schedule.initial
    for (let n = 1; ; n++) {
      const [next, , decision] = yield* schedule.step(now, undefined, state)
      if (ScheduleDecision.isDone(decision)) return Option.none<Duration.Duration>()
      if (n >= failures) return Option.some(Duration.millis(Math.max(0, ScheduleIntervals.start(decision.intervals) - now)))
      state = next
    }
  })

/** Exponential from `base` with jitter, each wait capped at `cap`: the shape of every kind's backoff. */
export const backoff = (base: Duration.Duration, cap: Duration.Duration = Duration.minutes(10)) =>
  Schedule.exponential(base).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, cap))
  )

/** What went wrong, for `last_error`: each error's message with the messages of its causes (the driver's say the most). */
export const describeFailure = <E>(cause: Cause.Cause<E>) => {
  const messages = [...Cause.failures(cause), ...Cause.defects(cause)].map((error) => {
    const chain: Array<string> = []
    for (let e: unknown = error; e instanceof Object && chain.length < 4; e = (e as { cause?: unknown }).cause) {
      const message = (e as { message?: unknown }).message
      if (typeof message === "string" && message.length > 0) chain.push(message)
    }
    return chain.length > 0 ? chain.join(": ") : String(error)
  })
  return (messages.length > 0 ? messages.join("; ") : Cause.pretty(cause)).slice(0, maxErrorLength)
}

/**
 * An `insert` of the jobs `select` yields (columns `kind, key, payload jsonb, meta jsonb,
 * max_attempts, correlation_id`), to run as a CTE of another owner's statement: the jobs are
 * enqueued in the same statement as the change that decided them, and announced at commit.
 */
export const insertJobsFrom = (sql: PgClient.PgClient, select: Fragment) =>
  sql`
    insert into jobs (kind, key, payload, meta, status, max_attempts, run_at, correlation_id)
    select s.kind, s.key, s.payload, s.meta, 'pending', s.max_attempts, now(), s.correlation_id from (${select}) s
    on conflict (kind, key) do nothing
    returning pg_notify(${jobsChannel}, kind)`

/** How a kind's jobs run in this instance. */
export interface WorkerSpec<R> {
  readonly kind: string
  /** Jobs processed at once in this instance. */
  readonly concurrency: number
  /**
   * Jobs claimed ahead of the free workers (default 0): one claim then serves several jobs instead
   * of one per freed worker. Their leases run while they wait, so only for kinds whose attempts are
   * short against `lease`.
   */
  readonly prefetch?: number
  /** How long a claim holds; a worker that dies is replaced once it runs out. */
  readonly lease: Duration.Duration
  /** Waits between failed attempts (the row's `max_attempts` bounds them too). */
  readonly retry: Schedule.Schedule<unknown, unknown>
  /**
   * Runs one attempt. With `transactional`, it runs in the same transaction as the job's settling
   * (which comes first, so an attempt whose lease was lost applies nothing): a job whose effects
   * are all in this database is applied exactly once.
   */
  readonly handle: (job: ClaimedJob) => Effect.Effect<Outcome, never, R>
  readonly transactional: boolean
  /** The correlation id of an attempt's logs and events (default: the job's, else its id). */
  readonly correlationOf?: (job: ClaimedJob) => string
}

export class Jobs extends Effect.Service<Jobs>()("bugbots/Jobs", {
  scoped: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const shutdown = yield* Shutdown
    /** Local wake-ups by kind (this instance's enqueues, NOTIFYs heard, and its workers becoming free). */
    const wakers = new Map<string, Queue.Queue<void>>()
    const wakerOf = (kind: string) =>
      Effect.sync(() => {
        let queue = wakers.get(kind)
        if (queue === undefined) {
          queue = Effect.runSync(Queue.sliding<void>(1))
          wakers.set(kind, queue)
        }
        return queue
      })
    const wake = (kind: string) => Effect.flatMap(wakerOf(kind), (queue) => Queue.offer(queue, undefined))
    const announcements = yield* Queue.sliding<string>(64)

    const claimedColumns = sql.literal(
      "id, kind, key, payload::text as payload, meta, attempts, max_attempts, lease_token, lease_expires_at, correlation_id"
    )

    /**
     * Enqueues in the caller's transaction; the NOTIFY goes out at commit. False when its key was
     * stored already. JSON text goes in as `text` cast to jsonb: Bun.SQL sends a string bound to a
     * jsonb parameter as a JSON string.
     */
    const enqueue = (job: NewJob) =>
      sql<{ id: string }>`
        with inserted as (
          insert into jobs (kind, key, payload, meta, status, max_attempts, run_at, correlation_id)
          values (${job.kind}, ${job.key}, ${storable(job.payload)}::text::jsonb, ${sql.json(job.meta)}, ${job.status ?? "pending"},
                  ${job.maxAttempts}, case when ${job.status ?? "pending"} = 'pending' then now() end, ${job.correlationId})
          on conflict (kind, key) do nothing
          returning id, status)
        select id, case when status = 'pending' then pg_notify(${jobsChannel}, ${job.kind}) end from inserted`.pipe(
        Effect.map((rows) => rows.length > 0)
      )

    interface PendingInsert {
      readonly job: NewJob
      readonly stored: Deferred.Deferred<boolean, SqlError>
    }
    const pendingInserts = yield* Queue.unbounded<PendingInsert>()

    /**
     * The batch as one JSON array for `jsonb_to_recordset`. Payloads are embedded as they are (each
     * is JSON already), so PostgreSQL parses every payload once and nothing re-escapes it.
     */
    const recordset = (batch: ReadonlyArray<PendingInsert>) =>
      `[${batch
        .map(({ job }, i) =>
          `{"n":${i},"kind":${JSON.stringify(job.kind)},"key":${JSON.stringify(job.key)},"meta":${JSON.stringify(job.meta)},` +
          `"status":${JSON.stringify(job.status ?? "pending")},"max_attempts":${job.maxAttempts},` +
          `"correlation_id":${JSON.stringify(job.correlationId)},"payload":${storable(job.payload)}}`
        )
        .join(",")}]`

    const insertBatch = (batch: ReadonlyArray<PendingInsert>) =>
      sql<{ n: number }>`
        insert into jobs (kind, key, payload, meta, status, max_attempts, run_at, correlation_id)
        select kind, key, payload, meta, status, max_attempts, case when status = 'pending' then now() end, correlation_id
        from jsonb_to_recordset(${recordset(batch)}::text::jsonb)
          as r(n int, kind text, key text, payload jsonb, meta jsonb, status text, max_attempts int, correlation_id text)
        order by n
        on conflict (kind, key) do nothing
        returning (select r2.n from jsonb_to_recordset(${recordset(batch)}::text::jsonb) as r2(n int, kind text, key text)
                   where r2.kind = jobs.kind and r2.key is not distinct from jobs.key limit 1) as n`

    /** A batch that fails is written again one by one, so one unstorable job fails alone. */
    const writeBatch = (batch: ReadonlyArray<PendingInsert>): Effect.Effect<void> =>
      Effect.exit(insertBatch(batch)).pipe(
        Effect.flatMap((exit) => {
          if (Exit.isFailure(exit) && batch.length > 1) return Effect.forEach(batch, (p) => writeBatch([p]), { discard: true })
          const stored = Exit.map(exit, (rows) => new Set(rows.map((row) => row.n)))
          return Effect.forEach(
            batch,
            (p, i) => Deferred.done(p.stored, Exit.map(stored, (ns) => ns.has(i))),
            { discard: true }
          ).pipe(
            Effect.zipRight(
              Exit.isSuccess(exit)
                ? Effect.forEach(new Set(batch.filter((p) => (p.job.status ?? "pending") === "pending").map((p) => p.job.kind)), (kind) =>
                    wake(kind).pipe(Effect.zipRight(Queue.offer(announcements, kind)))
                  )
                : Effect.void
            )
          )
        })
      )
    for (let i = 0; i < insertWriters; i++) {
      yield* Effect.forkScoped(
        Effect.forever(Queue.takeBetween(pendingInserts, 1, maxBatch).pipe(Effect.flatMap((batch) => writeBatch(Chunk.toReadonlyArray(batch)))))
      )
    }

    /**
     * Stores a job outside any transaction, committed together with the jobs of concurrent callers
     * (group commit: one statement and one commit per batch, several times the rate of a commit per
     * job, and no later answer at low load since a writer takes whatever is queued as soon as it is
     * free). Resolves once the job is durable; false when its key was stored already.
     */
    const enqueueDurably = (job: NewJob) =>
      Effect.gen(function* () {
        const stored = yield* Deferred.make<boolean, SqlError>()
        yield* Queue.offer(pendingInserts, { job, stored })
        return yield* Deferred.await(stored)
      })

    /**
     * Claims up to `limit` due jobs of `kind` for `lease`: concurrent claimers skip each other's rows.
     * Jobs that share a `meta.serial` run one at a time, oldest first: one is claimable only while
     * none of its series is running or queued before it (two edits of one GitHub comment, say).
     */
    const claim = (kind: string, limit: number, lease: Duration.Duration) =>
      sql<ClaimedJob>`
        update jobs
        set status = 'running', lease_token = gen_random_uuid(), lease_expires_at = now() + make_interval(secs => ${Duration.toSeconds(lease)}),
            started_at = now(), updated_at = now()
        where id in (
          select id from jobs j
          where kind = ${kind} and status = 'pending' and run_at <= now()
            and (j.meta ->> 'serial' is null or not exists (
              select 1 from jobs e where e.kind = j.kind and e.meta ->> 'serial' = j.meta ->> 'serial' and e.status in ('pending', 'running')
                and (e.status = 'running' or e.seq < j.seq)))
          order by run_at, seq
          limit ${limit}
          for update skip locked)
        returning ${claimedColumns}`

    /**
     * The job of `kind` whose live lease is `token`, locked for the caller's transaction (which
     * settles it next): None when the lease is wrong, released, swept or past its end.
     */
    const leased = (kind: string, id: string, token: string) =>
      sql<ClaimedJob>`
        select ${claimedColumns} from jobs
        where id = ${id}::uuid and kind = ${kind} and status = 'running' and lease_token = ${token}::uuid and lease_expires_at > now()
        for update`.pipe(Effect.map((rows) => Option.fromNullable(rows[0])))

    /** Marks the job done if the lease is still `token`'s (false otherwise: then nothing may be applied). */
    const complete = (id: string, token: string, result: unknown) =>
      sql`
        update jobs
        set status = 'done', result = ${result === undefined ? null : sql.json(result)}, lease_token = null, lease_expires_at = null,
            last_error = null, finished_at = now(), updated_at = now()
        where id = ${id} and lease_token = ${token}::uuid
        returning id`.pipe(Effect.map((rows) => rows.length > 0))

    /** A failed attempt: back to `pending` after `retryIn`, or dead-lettered when it is None. False when the lease was lost. */
    const fail = (id: string, token: string, error: string, retryIn: Option.Option<Duration.Duration>) =>
      sql`
        update jobs
        set attempts = attempts + 1, last_error = ${error.slice(0, maxErrorLength)}, lease_token = null, lease_expires_at = null,
            updated_at = now(),
            status = case when ${Option.isSome(retryIn)} and attempts + 1 < max_attempts then 'pending' else 'failed' end,
            run_at = case when ${Option.isSome(retryIn)} and attempts + 1 < max_attempts
                       then now() + make_interval(secs => ${Option.match(retryIn, { onNone: () => 0, onSome: Duration.toSeconds })}) end,
            finished_at = case when ${Option.isSome(retryIn)} and attempts + 1 < max_attempts then null else now() end
        where id = ${id} and lease_token = ${token}::uuid
        returning id`.pipe(Effect.map((rows) => rows.length > 0))

    /** When the attempt after `failures` failures may run, by `schedule`, and never before `atLeast`. */
    const nextAttempt = (schedule: Schedule.Schedule<unknown, unknown>, failures: number, atLeast?: Duration.Duration) =>
      retryDelay(schedule, failures).pipe(Effect.map(Option.map((delay) => (atLeast === undefined ? delay : Duration.max(delay, atLeast)))))

    /** Settles an attempt with its outcome; false when the lease was lost meanwhile (nothing changed). */
    const settle = (job: ClaimedJob, outcome: Outcome, schedule: Schedule.Schedule<unknown, unknown>) =>
      Effect.gen(function* () {
        switch (outcome._tag) {
          case "Done":
            return yield* complete(job.id, job.lease_token, outcome.result)
          case "Retry":
            return yield* fail(job.id, job.lease_token, outcome.error, yield* nextAttempt(schedule, job.attempts + 1, outcome.after))
          case "Failed":
            return yield* fail(job.id, job.lease_token, outcome.error, Option.none())
        }
      })

    /** Claimed jobs this instance will not run (it is stopping): due again at once, for anyone, no attempt counted. */
    const release = (jobs: ReadonlyArray<ClaimedJob>) =>
      jobs.length === 0
        ? Effect.void
        : sql`
            update jobs set status = 'pending', run_at = now(), lease_token = null, lease_expires_at = null, updated_at = now()
            where lease_token in ${sql.in(jobs.map((job) => job.lease_token))}`.pipe(Effect.asVoid)

    /**
     * Leases that ran out: the worker died (or hung) mid-attempt, which counts as a failed attempt.
     * Each is retried on `schedules[kind]` (the kinds this instance runs; others get a minute), or
     * dead-lettered when out of attempts.
     */
    const schedules = new Map<string, Schedule.Schedule<unknown, unknown>>()
    /** Declares `kind`'s backoff for the expired leases this instance sweeps, where no worker of it runs (external workers). */
    const retryOn = (kind: string, schedule: Schedule.Schedule<unknown, unknown>) => Effect.sync(() => void schedules.set(kind, schedule))
    const sweepExpired = sql.withTransaction(
      Effect.gen(function* () {
        const rows = yield* sql<{ id: string; kind: string; attempts: number; max_attempts: number }>`
          select id, kind, attempts, max_attempts from jobs
          where status = 'running' and lease_expires_at <= now()
          order by lease_expires_at limit ${sweepBatch}
          for update skip locked`
        for (const row of rows) {
          const schedule = schedules.get(row.kind)
          const retryIn = schedule === undefined ? Option.some(Duration.minutes(1)) : yield* retryDelay(schedule, row.attempts + 1)
          yield* sql`
            update jobs
            set attempts = attempts + 1, lease_token = null, lease_expires_at = null, updated_at = now(),
                last_error = 'the lease ran out: the worker stopped or hung during attempt ' || (attempts + 1),
                status = case when ${Option.isSome(retryIn)} and attempts + 1 < max_attempts then 'pending' else 'failed' end,
                run_at = case when ${Option.isSome(retryIn)} and attempts + 1 < max_attempts
                           then now() + make_interval(secs => ${Option.match(retryIn, { onNone: () => 0, onSome: Duration.toSeconds })}) end,
                finished_at = case when ${Option.isSome(retryIn)} and attempts + 1 < max_attempts then null else now() end
            where id = ${row.id}`
        }
        return rows.length
      })
    )

    const selecting = (where: JobSelector) =>
      "id" in where
        ? sql`j.id = ${where.id}::uuid`
        : "key" in where
        ? sql`j.key = ${where.key}`
        : sql`j.meta ->> ${where.meta.field} = ${where.meta.value}`

    /**
     * Queues settled jobs again with fresh attempts; those requeued (none when unknown, or still
     * queued or running) as `render` shows them as requeued: a worker may claim them before a later
     * read.
     */
    const requeue = (kind: string, where: JobSelector, render: string) =>
      sql<{ json: string }>`
        update jobs j
        set status = 'pending', attempts = 0, run_at = now(), last_error = null, result = null, finished_at = null, updated_at = now()
        where j.kind = ${kind} and ${selecting(where)} and j.status not in ('pending', 'running')
        returning ${sql.literal(render)}::text as json, pg_notify(${jobsChannel}, j.kind)`

    /**
     * An admin's retry of a job `where` selects: queued again with fresh attempts when it is settled
     * (`Requeued`, as `render` shows it); else `InFlight` (still queued or running, as `render` shows
     * it) or `Unknown`.
     */
    const retry = (kind: string, where: JobSelector, render: string) =>
      Effect.gen(function* () {
        const queued = yield* requeue(kind, where, render)
        if (queued.length > 0) return { _tag: "Requeued", json: queued[0].json } as const
        const found = yield* find(kind, where, render)
        return found.length === 0 ? ({ _tag: "Unknown" } as const) : ({ _tag: "InFlight", json: found[0].json, status: found[0].status } as const)
      })

    /** One page of a kind's jobs (those `where` selects, if given), newest first, as `render(alias)` shows them (SQL building the item's JSON). */
    const list = (
      kind: string,
      statuses: ReadonlyArray<JobStatus> | undefined,
      render: string,
      limit: number,
      cursor: string | undefined,
      where?: JobSelector,
      /** Pending jobs that have failed an attempt are listed too (a retry's wait), whatever `statuses` says. */
      retrying = false
    ) =>
      Effect.gen(function* () {
        const after = yield* decodeCursor(cursor, SeqCursor)
        const conds = [sql`j.kind = ${kind}`]
        if (where !== undefined) conds.push(selecting(where))
        const byStatus = statuses !== undefined && statuses.length > 0 ? sql`j.status in ${sql.in(statuses)}` : undefined
        const waiting = retrying ? sql`(j.status = 'pending' and j.attempts > 0)` : undefined
        if (byStatus !== undefined && waiting !== undefined) conds.push(sql`(${byStatus} or ${waiting})`)
        else if (byStatus !== undefined || waiting !== undefined) conds.push((byStatus ?? waiting)!)
        if (after !== undefined) conds.push(sql`j.seq < ${after[0]}`)
        const rows = yield* sql<{ json: string; seq: string }>`
          select ${sql.literal(render)}::text as json, j.seq from jobs j where ${sql.and(conds)} order by j.seq desc limit ${limit + 1}`
        return toPage(rows, limit, (row) => row.json, (row) => [Number(row.seq)])
      })

    /** The jobs of a kind that `where` selects, as `render` (SQL over alias `j`) shows them, newest first. */
    const find = (kind: string, where: JobSelector, render: string) =>
      sql<{ json: string; status: JobStatus }>`
        select ${sql.literal(render)}::text as json, j.status from jobs j
        where j.kind = ${kind} and ${selecting(where)} order by j.seq desc`

    /**
     * Runs `spec.kind`'s jobs in this instance until the shutdown starts: a dispatcher claims due
     * jobs (never more than the free workers can take), `spec.concurrency` workers run them, each
     * tagged with the job's correlation id. When the shutdown starts, workers are interrupted and
     * everything still held is released at once for another instance.
     */
    const run = <R>(spec: WorkerSpec<R>): Effect.Effect<void, never, R | Scope.Scope> =>
      Effect.gen(function* () {
        schedules.set(spec.kind, spec.retry)
        const waker = yield* wakerOf(spec.kind)
        const prefetch = spec.prefetch ?? 0
        /** What this instance may hold at once: the jobs running and those claimed for the next free workers. */
        const capacity = spec.concurrency + prefetch
        const ready = yield* Queue.bounded<ClaimedJob>(capacity)
        const held = new Set<ClaimedJob>()

        /**
         * One attempt; None when it is settled already. A transactional attempt settles the job
         * first (locking it, and only if the lease is still ours), then applies it: an attempt that
         * does not end `Done` rolls back with everything it did, and is settled afterwards.
         */
        const attempt = (job: ClaimedJob): Effect.Effect<Option.Option<Outcome>, unknown, R> =>
          spec.transactional
            ? sql.withTransaction(
                Effect.gen(function* () {
                  if (!(yield* complete(job.id, job.lease_token, undefined))) return Option.none<Outcome>()
                  const outcome = yield* spec.handle(job)
                  if (outcome._tag !== "Done") return yield* Effect.fail(new NotDone({ outcome }))
                  return Option.none<Outcome>()
                })
              ).pipe(Effect.catchTag("NotDone", (e) => Effect.succeed(Option.some(e.outcome))))
            : spec.handle(job).pipe(Effect.map(Option.some))

        const process = (job: ClaimedJob) =>
          Effect.gen(function* () {
            const exit = yield* Effect.exit(attempt(job))
            if (Exit.isInterrupted(exit)) return yield* exit
            const outcome: Option.Option<Outcome> = Exit.isSuccess(exit)
              ? exit.value
              : Option.some({ _tag: "Retry", error: describeFailure(exit.cause) })
            if (Option.isSome(outcome)) {
              yield* settle(job, outcome.value, spec.retry)
              if (outcome.value._tag !== "Done") {
                yield* Effect.logWarning(`job attempt failed (${outcome.value._tag === "Retry" ? "will retry" : "dead-lettered"})`).pipe(
                  Effect.annotateLogs({ job_id: job.id, kind: job.kind, attempt: job.attempts + 1, error: outcome.value.error })
                )
              }
            }
            held.delete(job)
            // A worker is free: the dispatcher, which waits while none is, may claim again at once.
            yield* Queue.offer(waker, undefined)
          }).pipe(
            withCorrelationId(spec.correlationOf?.(job) ?? job.correlation_id ?? job.id),
            // A trace of its own per attempt (when traces are exported), so that its log lines carry a trace id.
            Effect.withSpan(`Jobs.attempt ${spec.kind}`, {
              root: true,
              // The call site is this line for every attempt: not worth an Error per attempt.
              captureStackTrace: false,
              attributes: { "job.id": job.id, "job.kind": job.kind, "job.attempt": job.attempts + 1 }
            }),
            // Interrupted (the shutdown): still held, so released for another instance.
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause)
                ? Effect.failCause(cause)
                : Effect.sync(() => held.delete(job)).pipe(
                    Effect.zipRight(Queue.offer(waker, undefined)),
                    Effect.zipRight(Effect.logError("settling a job failed; its lease will run out", cause))
                  )
            )
          )

        const dispatch = Effect.gen(function* () {
          // With a prefetch, claim only once at least `prefetch` places are free (or nothing is held), then fill them all.
          const free = capacity - held.size
          const claimed = held.size > 0 && free < Math.max(1, prefetch) ? [] : yield* claim(spec.kind, free, spec.lease)
          for (const job of claimed) held.add(job)
          if (claimed.length > 0) return yield* Queue.offerAll(ready, claimed)
          yield* Queue.take(waker).pipe(Effect.timeoutOption(pollInterval))
        }).pipe(
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause)
              ? Effect.failCause(cause)
              : Effect.logError("claiming jobs failed", cause).pipe(Effect.annotateLogs({ kind: spec.kind }), Effect.zipRight(Effect.sleep(pollInterval)))
          )
        )

        const work = Effect.gen(function* () {
          yield* Effect.addFinalizer(() => release([...held]).pipe(Effect.ignore))
          yield* Effect.forkScoped(Effect.forever(dispatch))
          for (let i = 0; i < spec.concurrency; i++) {
            yield* Effect.forkScoped(Effect.forever(Queue.take(ready).pipe(Effect.flatMap(process))))
          }
        })
        yield* Effect.forkScoped(Effect.scoped(Effect.zipRight(work, shutdown.started)))
      })

    /** How many jobs of each of `kinds` are in each status, and how many hold a live lease (every status present, zeros included). */
    const countsByStatus = (kinds: ReadonlyArray<string>) =>
      sql<{ kind: string; status: JobStatus; count: number }>`
        select k.kind, s.status, coalesce(c.count, 0)::int as count
        from jsonb_array_elements_text(${JSON.stringify(kinds)}::text::jsonb) as k(kind)
        cross join unnest(array['pending', 'running', 'done', 'failed', 'ignored']) as s(status)
        left join (select kind, status, count(*) as count from jobs where kind in ${sql.in(kinds)} group by kind, status) c
          on c.kind = k.kind and c.status = s.status`

    /** Jobs held by a worker under a lease that has not run out. */
    const leasesActive = sql<{ count: number }>`
      select count(*)::int as count from jobs where status = 'running' and lease_expires_at > now()`.pipe(Effect.map((rows) => rows[0]?.count ?? 0))

    /**
     * Per kind (contract §12): jobs by state, the wait of the oldest due job, the processing time of
     * the attempts that finished in the last 5 minutes (median, 95th percentile), and live leases.
     * One statement, each part on an index (`jobs_kind_status_idx`, `jobs_due_idx`, `jobs_finished_idx`,
     * `jobs_lease_idx`).
     */
    const queueStats = (kinds: ReadonlyArray<string>) =>
      sql<{ json: string }>`
        select json_build_object(
          'kind', k.kind,
          'depth', (select json_build_object(
                      'pending', count(*) filter (where status = 'pending'), 'running', count(*) filter (where status = 'running'),
                      'done', count(*) filter (where status = 'done'), 'failed', count(*) filter (where status = 'failed'),
                      'ignored', count(*) filter (where status = 'ignored'))
                    from jobs where kind = k.kind),
          'oldest_due_age_seconds', (select extract(epoch from now() - min(run_at))::float8
                                     from jobs where kind = k.kind and status = 'pending' and run_at <= now()),
          'durations_5m', (select json_build_object(
                             'finished', count(*),
                             'p50_seconds', percentile_cont(0.5) within group (order by extract(epoch from finished_at - started_at)::float8),
                             'p95_seconds', percentile_cont(0.95) within group (order by extract(epoch from finished_at - started_at)::float8))
                           from jobs where kind = k.kind and finished_at > now() - interval '5 minutes' and started_at is not null),
          'active_leases', (select count(*) from jobs where kind = k.kind and status = 'running' and lease_expires_at > now())
        )::text as json
        from jsonb_array_elements_text(${JSON.stringify(kinds)}::text::jsonb) with ordinality as k(kind, n)
        order by k.n`

    // Every instance hears of due jobs of every kind, and tells the others of those it batched.
    yield* sql.listen(jobsChannel).pipe(
      Stream.runForEach((kind) => wake(kind)),
      Effect.catchAllCause((cause) => Effect.logWarning("LISTEN for jobs stopped; polling meanwhile", cause)),
      Effect.zipRight(Effect.sleep(pollInterval)),
      Effect.forever,
      Effect.forkScoped
    )
    yield* Queue.take(announcements).pipe(
      Effect.flatMap((kind) => sql`select pg_notify(${jobsChannel}, ${kind})`),
      Effect.catchAllCause((cause) => Effect.logWarning("NOTIFY of queued jobs failed", cause)),
      Effect.zipRight(Effect.sleep(announceInterval)),
      Effect.forever,
      Effect.forkScoped
    )
    yield* sweepExpired.pipe(
      Effect.repeat({ while: (swept) => swept === sweepBatch }),
      Effect.catchAllCause((cause) => Effect.logWarning("sweeping expired job leases failed", cause)),
      Effect.repeat(Schedule.spaced(pollInterval)),
      Effect.forkScoped
    )

    /** Which of `keys` a job of `kind` was stored under. */
    const storedKeys = (kind: string, keys: ReadonlyArray<string>) =>
      keys.length === 0
        ? Effect.succeed(new Set<string>())
        : sql<{ key: string }>`select key from jobs where kind = ${kind} and key in ${sql.in(keys)}`.pipe(
          Effect.map((rows) => new Set(rows.map((row) => row.key)))
        )

    return { enqueue, enqueueDurably, claim, leased, settle, retryOn, release, retry, list, find, run, wake, storedKeys, countsByStatus, leasesActive, queueStats } as const
  }),
  dependencies: [Shutdown.Default]
}) {}

class NotDone extends Data.TaggedError("NotDone")<{ readonly outcome: Outcome }> {}
