import { PgClient } from "@effect/sql-pg"
import { SqlError } from "@effect/sql/SqlError"
import { Deferred, Duration, Effect, Exit, FiberSet, Option, Redacted, Schedule, Stream, SubscriptionRef } from "effect"
import * as Pg from "pg"
import { AppConfig } from "../Config.js"
import { Instance } from "../Instance.js"

/**
 * The leader lock's key: the two-int form of a session-level advisory lock (in `pg_locks`:
 * `classid` 0x62756762 "bugb", `objid` 1, `objsubid` 2).
 */
const lockKey = [0x62756762, 1] as const

/** Whose connection holds the lock is told by its `application_name`. */
const applicationNamePrefix = "bugbots-leader:"

/** What the status page shows of the leader. */
export interface LeaderInfo {
  readonly instance_id: string
  /** When its leader connection was opened (it took the lock then or later). */
  readonly since: Date
}

/**
 * The one leader lock: a session-level advisory lock held on a connection of its own (outside the
 * pool, so no statement of a request ever runs on it). The instance holding it runs the scheduled
 * work (`scheduled`: the reconciler, recovery). PostgreSQL releases the lock when that session
 * ends, so an instance that dies or loses its connection loses the lead at once; it notices
 * itself on the connection's end or error, or at the next check, and stops its scheduled work. The
 * others try every `BUGBOTS_LEADER_POLL`, so one of them takes over within one poll.
 */
export class Leader extends Effect.Service<Leader>()("bugbots/Leader", {
  scoped: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const { leaderPoll } = yield* AppConfig
    const instance = yield* Instance
    const leading = yield* SubscriptionRef.make(false)
    const url = Redacted.value(sql.config.url ?? Redacted.make(""))
    const applicationName = `${applicationNamePrefix}${instance.id}`

    /** One session: connect, then try the lock every poll until it is held, and hold it until the connection ends. */
    const session = Effect.gen(function* () {
      const ended = yield* Deferred.make<void, SqlError>()
      const lost = (cause: unknown) => Deferred.unsafeDone(ended, Exit.fail(new SqlError({ cause, message: "the leader connection was lost" })))
      const client = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const client = new Pg.Client({ connectionString: url, application_name: applicationName, keepAlive: true })
            client.on("error", lost).on("end", () => lost(new Error("the leader connection ended")))
            await client.connect()
            return client
          },
          catch: (cause) => new SqlError({ cause, message: "failed to open the leader connection" })
        }),
        (client) => Effect.promise(() => client.end().catch(() => undefined)).pipe(Effect.timeoutOption(1000))
      )
      const query = (text: string) =>
        Effect.tryPromise({
          try: () => client.query<{ held: boolean }>(text, [...lockKey]),
          catch: (cause) => new SqlError({ cause, message: "the leader connection failed" })
        }).pipe(Effect.map((result) => result.rows[0]?.held === true))
      const tryLock = query("select pg_try_advisory_lock($1, $2) as held")
      // The lock is the session's until it ends; checking also proves the connection still works.
      const stillHeld = query(
        "select exists (select 1 from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() and classid = $1 and objid = $2 and objsubid = 2 and granted) as held"
      )
      const check = Effect.gen(function* () {
        const held = yield* (yield* SubscriptionRef.get(leading)) ? stillHeld : tryLock
        if (held && !(yield* SubscriptionRef.get(leading))) yield* Effect.logInfo("leader lock taken: this instance runs the scheduled work")
        if (!held && (yield* SubscriptionRef.get(leading))) return yield* Effect.fail(new SqlError({ cause: null, message: "the leader lock is no longer held" }))
        yield* SubscriptionRef.set(leading, held)
      })
      yield* Effect.raceFirst(
        check.pipe(Effect.repeat(Schedule.spaced(leaderPoll))),
        Deferred.await(ended)
      )
    }).pipe(
      Effect.scoped,
      Effect.onExit((exit) =>
        SubscriptionRef.getAndSet(leading, false).pipe(
          Effect.flatMap((was) =>
            !was ? Effect.void : Exit.isInterrupted(exit) ? Effect.logInfo("leader lock released") : Effect.logWarning("leader lock lost: scheduled work stops here")
          )
        )
      )
    )

    yield* session.pipe(
      Effect.catchAll((error) => Effect.logDebug("leader session ended", error.message)),
      Effect.zipRight(Effect.sleep(leaderPoll)),
      Effect.forever,
      Effect.forkScoped
    )

    /**
     * Runs `job` every `interval` while this instance leads (the first run as soon as it takes the
     * lead), for the life of the caller's scope; stopped at once when the lead is lost. A failed run
     * is logged and the next one comes at its time.
     */
    const scheduled = <E, R>(name: string, interval: Duration.DurationInput, job: Effect.Effect<unknown, E, R>) =>
      Effect.gen(function* () {
        const runs = yield* FiberSet.make()
        const run = job.pipe(
          Effect.catchAllCause((cause) => Effect.logWarning(`scheduled ${name} failed`, cause)),
          Effect.repeat(Schedule.spaced(interval)),
          Effect.annotateLogs("scheduled", name)
        )
        yield* leading.changes.pipe(
          Stream.changes,
          Stream.runForEach((lead) => (lead ? FiberSet.run(runs, run) : FiberSet.clear(runs))),
          Effect.forkScoped
        )
      })

    /** The instance holding the lock now, if any (any instance can tell). */
    const current = Effect.gen(function* () {
      const rows = yield* sql<{ application_name: string; backend_start: Date }>`
        select a.application_name, a.backend_start
        from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'advisory' and l.classid = ${lockKey[0]} and l.objid = ${lockKey[1]} and l.objsubid = 2 and l.granted
          and l.database = (select oid from pg_database where datname = current_database())`
      return Option.map(
        Option.fromNullable(rows[0]),
        (row): LeaderInfo => ({ instance_id: row.application_name.slice(applicationNamePrefix.length), since: row.backend_start })
      )
    })

    return {
      /** Whether this instance leads now. */
      isLeader: SubscriptionRef.get(leading),
      /** Completes once this instance leads. */
      awaitLead: leading.changes.pipe(Stream.filter((lead) => lead), Stream.runHead, Effect.asVoid),
      scheduled,
      current
    } as const
  }),
  dependencies: [Instance.Default]
}) {}
