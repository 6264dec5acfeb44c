import { Duration, Effect, Layer } from "effect"
import type { BugId } from "../Domain/Ids.js"
import { backoff, describeFailure, Jobs, type Outcome } from "../Jobs/Jobs.js"
import { Analyses, analysisKind } from "./Analyses.js"

/** Analyses run at once per instance: each mostly waits on a provider. */
const concurrency = 2

/**
 * Runs `bug.analysis` jobs. An attempt is not transactional (it waits on providers for up to their
 * timeouts); it stores its result when it settles. A failure of our own (the database) retries.
 */
export const AnalysisWorkerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const jobs = yield* Jobs
    const analyses = yield* Analyses
    yield* jobs.run({
      kind: analysisKind,
      concurrency,
      lease: analyses.lease,
      retry: backoff(Duration.seconds(5)),
      transactional: false,
      handle: (job) =>
        analyses.run((JSON.parse(job.payload) as { bug_id: BugId }).bug_id).pipe(
          Effect.catchAllCause((cause) => Effect.succeed<Outcome>({ _tag: "Retry", error: describeFailure(cause) }))
        )
    })
  })
)

