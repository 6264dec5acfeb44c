import { Cause, Duration, Effect, Layer, Schedule } from "effect"
import { AppConfig } from "../Config.js"
import { backoff, describeFailure, Jobs, type Outcome } from "../Jobs/Jobs.js"
import { GitHubSync, MalformedPayload } from "./Sync.js"
import { deliveryKind } from "./Webhooks.js"

/** A delivery worker that died is replaced once its claim runs out: with the sweep and the retry's first wait, inside the 30 s of contract §6. */
export const claimLease = Duration.seconds(20)

/**
 * Failed attempts of a delivery: exponential from `base` with jitter, each wait capped at 10 minutes
 * (the job's `max_attempts`, `BUGBOTS_WEBHOOK_MAX_ATTEMPTS`, bounds them).
 */
export const webhookRetry = (base: Duration.Duration) => backoff(base)

/**
 * Stored deliveries are jobs of kind `github.delivery`: each is applied in one transaction with
 * the job's settling (so at most once), tagged with the delivery's request id. A payload that can
 * never apply is dead-lettered at once; any other failure retries.
 */
export const WebhookWorkerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* AppConfig
    const jobs = yield* Jobs
    const sync = yield* GitHubSync
    yield* jobs.run({
      kind: deliveryKind,
      concurrency: config.webhookConcurrency,
      // An attempt takes milliseconds against a 20 s lease: claim a worker's worth ahead, one claim for several deliveries.
      prefetch: config.webhookConcurrency,
      lease: claimLease,
      retry: webhookRetry(config.webhookRetryBase) as Schedule.Schedule<unknown, unknown>,
      transactional: true,
      // What is done for a delivery is traced to the delivery itself (GitHub shows its id).
      correlationOf: (job) => String(job.meta.delivery_id),
      handle: (job) => {
        const { event, action } = job.meta as { readonly event: string; readonly action: string | null }
        return sync.apply(event, action, JSON.parse(job.payload)).pipe(
          Effect.as<Outcome>({ _tag: "Done" }),
          Effect.catchAll((e) =>
            Effect.succeed<Outcome>(
              e instanceof MalformedPayload ? { _tag: "Failed", error: e.message } : { _tag: "Retry", error: describeFailure(Cause.fail(e)) }
            )
          )
        )
      }
    })
  })
).pipe(Layer.provide(GitHubSync.Default))
