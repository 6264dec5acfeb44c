import { PgClient } from "@effect/sql-pg"
import { Cause, Chunk, Duration, Effect, Exit, Layer, Option, Queue, Schedule, ScheduleDecision, ScheduleIntervals, Stream } from "effect"
import { AppConfig } from "../Config.js"
import { withCorrelationId } from "../Correlation.js"
import { Shutdown } from "../Shutdown.js"
import { isHandled } from "./GitHub.js"
import { type Claimed, deliveriesChannel, WebhookLedger } from "./Ledger.js"
import { GitHubSync, MalformedPayload } from "./Sync.js"

/**
 * A claim's lease: a delivery whose worker died is claimed again once it runs out, which with the
 * poll interval keeps contract §6's "another instance acts within 30 s".
 */
export const claimLease = Duration.seconds(20)
/** The safety net under the in-process nudge and LISTEN: due retries and expired leases are found this often. */
const pollInterval = Duration.seconds(1)
/** NOTIFY is batched: a commit that notifies takes a global lock, one per delivery would serialise the receiver. */
const announceInterval = Duration.millis(50)
/** Deliveries processed at once per instance (each holds a database connection for its transaction). */
const concurrency = 4
const maxErrorLength = 4000

/** What went wrong, for `last_error`: each error's message with the messages of its causes (the driver's say the most). */
const describeFailure = <E>(cause: Cause.Cause<E>) => {
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
 * Wakes the workers when a delivery is queued: this instance's dispatcher at once, and every
 * instance (through NOTIFY, at most once per `announceInterval`) so they share the work.
 */
export class WebhookWakeup extends Effect.Service<WebhookWakeup>()("bugbots/WebhookWakeup", {
  effect: Effect.gen(function* () {
    const local = yield* Queue.sliding<void>(1)
    const announce = yield* Queue.sliding<void>(1)
    return {
      nudge: Queue.offer(local, undefined).pipe(Effect.zipRight(Queue.offer(announce, undefined)), Effect.asVoid),
      /** Woken by `nudge` or by another instance's NOTIFY. */
      wake: Queue.offer(local, undefined).pipe(Effect.asVoid),
      wait: (timeout: Duration.Duration) => Queue.take(local).pipe(Effect.timeoutOption(timeout), Effect.asVoid),
      /** Resolves when there is something to announce to the other instances. */
      announced: Queue.take(announce)
    } as const
  })
}) {}

/**
 * Failed attempts of a delivery: exponential from `base` with jitter, each wait capped at 10 minutes,
 * `maxAttempts` attempts in all. The waits are written to `next_attempt_at` (a retry survives a
 * restart); when the schedule ends, the delivery is dead-lettered.
 */
export const webhookRetry = (base: Duration.Duration, maxAttempts: number) =>
  Schedule.exponential(base).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.minutes(10))),
    Schedule.intersect(Schedule.recurs(maxAttempts - 1))
  )

/** The wait `schedule` prescribes after the `failures`-th failure; None once it is exhausted. */
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

/**
 * The in-process workers: a dispatcher claims due deliveries (`FOR UPDATE SKIP LOCKED`, so every
 * instance shares the ledger) and `concurrency` fibers apply each in one transaction, tagged with the
 * delivery id as correlation id.
 */
export const WebhookWorkerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const config = yield* AppConfig
    const ledger = yield* WebhookLedger
    const sync = yield* GitHubSync
    const wakeup = yield* WebhookWakeup
    const shutdown = yield* Shutdown
    const retry = webhookRetry(config.webhookRetryBase, config.webhookMaxAttempts)
    const jobs = yield* Queue.bounded<Claimed>(concurrency)

    const apply = (claimed: Claimed) =>
      sql.withTransaction(
        Effect.gen(function* () {
          const handled = isHandled(claimed.event, claimed.action)
          if (!(yield* ledger.settle(claimed, handled ? "processed" : "ignored"))) return
          if (handled) yield* sync.apply(claimed.event, claimed.action, claimed.payload)
        })
      )

    const recordFailure = <E>(claimed: Claimed, cause: Cause.Cause<E>) =>
      Effect.gen(function* () {
        const permanent = Option.exists(Cause.failureOption(cause), (e) => e instanceof MalformedPayload)
        const retryIn = permanent ? Option.none<Duration.Duration>() : yield* retryDelay(retry, claimed.attempts)
        yield* ledger.fail(claimed, describeFailure(cause), Option.getOrNull(retryIn))
        yield* Effect.logWarning(Option.isSome(retryIn) ? "webhook delivery failed; will retry" : "webhook delivery dead-lettered", cause).pipe(
          Effect.annotateLogs({ delivery_id: claimed.id, event: claimed.event, attempts: claimed.attempts })
        )
      })

    const processOne = (claimed: Claimed) =>
      Effect.gen(function* () {
        if (Duration.greaterThan(config.webhookProcessingDelay, Duration.zero)) yield* Effect.sleep(config.webhookProcessingDelay)
        const exit = yield* Effect.exit(apply(claimed))
        if (Exit.isFailure(exit)) yield* recordFailure(claimed, exit.cause)
      }).pipe(
        withCorrelationId(claimed.id),
        Effect.onInterrupt(() => ledger.release([claimed]).pipe(Effect.ignore)),
        Effect.catchAllCause((cause) => Effect.logError("recording a webhook delivery's outcome failed; its lease will run out", cause))
      )

    const dispatch = Effect.gen(function* () {
      const claims = yield* ledger.claim(concurrency, claimLease, config.webhookMaxAttempts)
      if (claims.length > 0) return yield* Queue.offerAll(jobs, claims)
      yield* ledger.abandon(config.webhookMaxAttempts)
      yield* wakeup.wait(pollInterval)
    }).pipe(
      Effect.catchAllCause((cause) =>
        Effect.logError("claiming webhook deliveries failed", cause).pipe(Effect.zipRight(Effect.sleep(pollInterval)))
      )
    )

    const listen = sql.listen(deliveriesChannel).pipe(
      Stream.runForEach(() => wakeup.wake),
      Effect.catchAllCause((cause) => Effect.logWarning("LISTEN for webhook deliveries stopped; polling meanwhile", cause)),
      Effect.zipRight(Effect.sleep(pollInterval))
    )

    const announce = wakeup.announced.pipe(
      // `sql.notify` of @effect/sql-pg 0.53 sends a malformed NOTIFY: pg_notify is the working form.
      Effect.zipRight(sql`select pg_notify(${deliveriesChannel}, 'queued')`),
      Effect.catchAllCause((cause) => Effect.logWarning("NOTIFY of queued webhook deliveries failed", cause)),
      Effect.zipRight(Effect.sleep(announceInterval))
    )

    /** Claims and processes until its scope closes; then what it holds is released (interrupted `processOne`s, queued jobs). */
    const work = Effect.gen(function* () {
      yield* Effect.addFinalizer(() =>
        Queue.takeAll(jobs).pipe(Effect.flatMap((left) => ledger.release(Chunk.toReadonlyArray(left))), Effect.ignore)
      )
      yield* Effect.forkScoped(Effect.forever(listen))
      yield* Effect.forkScoped(Effect.forever(dispatch))
      for (let i = 0; i < concurrency; i++) {
        yield* Effect.forkScoped(Effect.forever(Queue.take(jobs).pipe(Effect.flatMap(processOne))))
      }
    })

    // Deliveries received while the HTTP server drains are still announced to the other instances.
    yield* Effect.forkScoped(Effect.forever(announce))
    // The workers stop when the shutdown starts, not after the HTTP drain: another instance takes their claims at once.
    yield* Effect.forkScoped(Effect.scoped(Effect.zipRight(work, shutdown.started)))
  })
).pipe(Layer.provide([WebhookLedger.Default, GitHubSync.Default, WebhookWakeup.Default]))
