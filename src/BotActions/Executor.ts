import { Duration, Effect, Layer, Option, Schema } from "effect"
import { AppConfig } from "../Config.js"
import { BotActionPayload } from "../Domain/BotAction.js"
import { GitHubClient } from "../GitHub/Client.js"
import { Jobs, type Outcome } from "../Jobs/Jobs.js"
import { actionKind, BotActions, settlement } from "./BotActions.js"
import { execute } from "./Execute.js"

/** An attempt holds its action this long; one whose executor died is taken again after it. */
const lease = Duration.seconds(60)
const decodePayload = Schema.decodeUnknown(Schema.parseJson(BotActionPayload))

/**
 * The in-process executor (contract §10): `BUGBOTS_EXECUTOR_CONCURRENCY` workers of this instance
 * claim bot actions from the same outbox external workers claim from, and execute them on GitHub
 * as the App's installation. Off with `BUGBOTS_EXECUTOR=off`; without App credentials it does not
 * start, and says so once.
 */
export const ExecutorLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* AppConfig
    const github = yield* GitHubClient
    const jobs = yield* Jobs
    const actions = yield* BotActions
    if (config.executor === "off") {
      return yield* Effect.logInfo("bot-action executor off (BUGBOTS_EXECUTOR=off): external workers execute bot actions")
    }
    if (Option.isNone(github.app)) {
      return yield* Effect.logWarning(
        "bot-action executor not started: GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY are not both set; bot actions wait for a worker"
      )
    }
    const app = github.app.value
    yield* jobs.run({
      kind: actionKind,
      concurrency: config.executorConcurrency,
      lease,
      retry: actions.retrySchedule,
      transactional: false,
      handle: (job) =>
        decodePayload(job.payload).pipe(
          Effect.flatMap((payload) => execute(app, payload)),
          Effect.map((done): Outcome =>
            done.outcome === "SUCCEEDED" ? settlement(done, done.result) : settlement(done)
          ),
          Effect.catchAll((e) => Effect.succeed<Outcome>({ _tag: "Failed", error: `the action's payload is malformed: ${e.message}` }))
        )
    })
  })
)
