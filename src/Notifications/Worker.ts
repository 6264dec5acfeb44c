import { Duration, Effect, Layer, Option, Schedule } from "effect"
import { AppConfig } from "../Config.js"
import type { NotificationChannelId } from "../Domain/Notification.js"
import { backoff, describeFailure, Jobs, type Outcome } from "../Jobs/Jobs.js"
import { deliveryKind, Notifications } from "./Notifications.js"
import { makeSender, type Notice } from "./Send.js"

/** Deliveries sent at once per instance. */
const concurrency = 4

/**
 * Sends `notification.delivery` jobs: each attempt checks the target again (DNS can change), sends,
 * and settles by the answer: delivered, again later on the notification backoff (honouring
 * `retry-after`), or dead-lettered (`failed`). Plus this instance's SLA sweeper: every instance
 * looks, and each breach is notified once (see `Notifications.sweepSla`).
 */
export const NotificationWorkerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* AppConfig
    const jobs = yield* Jobs
    const notifications = yield* Notifications
    const sender = makeSender(config)
    yield* jobs.run({
      kind: deliveryKind,
      concurrency,
      lease: Duration.seconds(30),
      retry: backoff(config.notificationRetryBase),
      transactional: false,
      handle: (job) =>
        notifications.destination(job.meta.channel_id as NotificationChannelId).pipe(
          Effect.flatMap(
            Option.match({
              onNone: () => Effect.succeed<Outcome>({ _tag: "Done", result: { skipped: "the channel was deleted" } }),
              onSome: (destination) => sender.send(job.id, destination, JSON.parse(job.payload) as Notice)
            })
          ),
          Effect.catchAllCause((cause) => Effect.succeed<Outcome>({ _tag: "Retry", error: describeFailure(cause) }))
        )
    })
    yield* notifications.sweepSla.pipe(
      Effect.tap((claimed) => (claimed > 0 ? Effect.logInfo("SLA breaches notified").pipe(Effect.annotateLogs({ breaches: claimed })) : Effect.void)),
      Effect.catchAllCause((cause) => Effect.logWarning("sweeping SLA breaches failed", cause)),
      Effect.repeat(Schedule.spaced(config.slaSweepInterval)),
      Effect.forkScoped
    )
  })
)
