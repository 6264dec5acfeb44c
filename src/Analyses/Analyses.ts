import { LanguageModel, Prompt } from "@effect/ai"
import { Cause, Data, Duration, Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import type { Principal } from "../Auth/Principal.js"
import { Bugs } from "../Bugs/Bugs.js"
import { AppConfig } from "../Config.js"
import { correlationId } from "../Correlation.js"
import { Analysis, AnalysisAnswer, type AnalysisId, type AnalysisResult, type ProviderFailure } from "../Domain/Analysis.js"
import type { BugId, VillageId } from "../Domain/Ids.js"
import { describeFailure, Jobs, type JobSelector, type Outcome } from "../Jobs/Jobs.js"
import { Reports } from "../Reports/Reports.js"
import { decodeJsonRows, iso } from "../Sql/Json.js"
import { withDb } from "../Sql/Retry.js"
import { classify, heuristicModel } from "./Heuristic.js"
import { type Case, describe, evidenceOf, system } from "./Prompt.js"
import { modelProviders } from "./Providers.js"

/** The job kind of an analysis; its key is the analysis id, its meta names the bug. */
export const analysisKind = "bug.analysis"
/** Attempts of an analysis job (each tries every provider; only a failure of our own, like the database, retries). */
export const analysisMaxAttempts = 3
/** Reports and lifecycle events an analysis reads. */
const reportsRead = 3
const historyRead = 50

/** An analysis as the API shows it, built by PostgreSQL from its job (the result is stored in the wire shape). */
export const renderedAnalysis = `(json_build_object(
  'id', j.key, 'bug_id', j.meta ->> 'bug_id',
  'status', case j.status when 'done' then 'done' when 'failed' then 'failed' else 'pending' end,
  'provider', j.result -> 'provider', 'model', j.result -> 'model', 'classification', j.result -> 'classification',
  'root_cause', j.result -> 'root_cause', 'confidence', j.result -> 'confidence', 'risk', j.result -> 'risk',
  'suggested_fix', j.result -> 'suggested_fix', 'fallbacks', coalesce(j.result -> 'fallbacks', '[]'::jsonb),
  'created_at', ${iso("j.created_at")},
  'finished_at', case when j.status in ('done', 'failed') then ${iso("j.finished_at")} end)::jsonb
  || case when j.status = 'failed' then jsonb_build_object('error', j.last_error) else '{}'::jsonb end)`
const decodeAnalyses = decodeJsonRows(Analysis)

const ofBug = (id: BugId): JobSelector => ({ meta: { field: "bug_id", value: id } })

/** A stored result in the wire shape: `patch` left out when there is none. */
const stored = (result: AnalysisResult) => ({
  provider: result.provider,
  model: result.model,
  classification: result.answer.classification,
  root_cause: result.answer.root_cause,
  confidence: result.answer.confidence,
  risk: result.answer.risk,
  suggested_fix: {
    summary: result.answer.suggested_fix.summary,
    ...(result.answer.suggested_fix.patch === null ? {} : { patch: result.answer.suggested_fix.patch })
  },
  fallbacks: result.fallbacks
})

/**
 * Root-cause analyses (contract §13), as jobs of kind `bug.analysis` on the one jobs engine: the
 * request is a job, the result is the job's result. Each run tries the configured model providers
 * in order, each under `BUGBOTS_AI_TIMEOUT`, asking for structured output and decoding it with
 * `AnalysisAnswer`; a timeout, an error or an answer that does not decode passes to the next. The
 * built-in heuristic answers last, so an analysis always ends done unless the bug is gone.
 */
export class Analyses extends Effect.Service<Analyses>()("bugbots/Analyses", {
  effect: Effect.gen(function* () {
    const config = yield* AppConfig
    const jobs = yield* Jobs
    const bugs = yield* Bugs
    const reports = yield* Reports
    const providers = modelProviders(config)

    /** The job of a new analysis of the bug (in the caller's transaction, if any); its id. */
    const enqueue = (bug: { readonly id: BugId; readonly village_id: VillageId }) =>
      Effect.gen(function* () {
        const id = randomUUID() as AnalysisId
        yield* jobs.enqueue({
          kind: analysisKind,
          key: id,
          payload: JSON.stringify({ bug_id: bug.id }),
          meta: { bug_id: bug.id, village_id: bug.village_id },
          maxAttempts: analysisMaxAttempts,
          correlationId: yield* correlationId
        })
        return id
      })

    /** `POST /bugs/{id}/analyses`: by those who may triage the bug (triagers and above, its assigned agent). */
    const request = Effect.fn("Analyses.request")(function* (principal: Principal, bugId: BugId) {
      const bug = JSON.parse(yield* bugs.getJson(principal, bugId, "triage")) as { id: BugId; village_id: VillageId }
      const id = yield* enqueue(bug).pipe(withDb)
      return { id, status: "pending" as const }
    })

    /** `GET /bugs/{id}/analyses`: newest first, to whoever may read the bug. */
    const list = Effect.fn("Analyses.list")(function* (principal: Principal, bugId: BugId, limit: number, cursor: string | undefined) {
      yield* bugs.getJson(principal, bugId)
      const page = yield* jobs.list(analysisKind, undefined, renderedAnalysis, limit, cursor, ofBug(bugId)).pipe(withDb)
      return { items: yield* decodeAnalyses(page.items.map((json) => ({ json }))), next_cursor: page.next_cursor }
    })

    /** The latest done analysis of the bug as its wire JSON, if there is one. */
    const latestJson = (bugId: BugId) =>
      jobs.find(analysisKind, ofBug(bugId), renderedAnalysis).pipe(
        withDb,
        Effect.map((rows) => Option.fromNullable(rows.find((row) => row.status === "done")?.json))
      )

    /** A claimed bug's wire JSON with its latest done analysis as `analysis` (left out when there is none). */
    const attachLatest = (bugJson: string) =>
      latestJson((JSON.parse(bugJson) as { id: BugId }).id).pipe(
        Effect.map(Option.match({ onNone: () => bugJson, onSome: (analysis) => `${bugJson.slice(0, -1)},"analysis":${analysis}}` }))
      )

    /** What an analysis reads: the bug, its latest reports, its lifecycle. */
    const caseOf = (bugId: BugId) =>
      Effect.gen(function* () {
        const bug = yield* bugs.find(bugId)
        const recent = yield* reports.recentEvents(bugId, reportsRead)
        const history = yield* bugs.history(bugId, historyRead)
        return { bug, reports: recent, history } satisfies Case
      })

    const ask = (c: Case) =>
      LanguageModel.generateObject({
        prompt: Prompt.make([
          { role: "system", content: system },
          { role: "user", content: [{ type: "text", text: describe(c) }] }
        ]),
        schema: AnalysisAnswer,
        objectName: "root_cause_analysis"
      }).pipe(Effect.map((response) => response.value))

    /** Tries each model provider in order, then the heuristic, which always answers. */
    const analyse = (c: Case) =>
      Effect.gen(function* () {
        const fallbacks: Array<typeof ProviderFailure.Type> = []
        for (const provider of providers) {
          const answer = yield* ask(c).pipe(
            Effect.provide(provider.layer),
            Effect.timeoutFail({
              duration: config.aiTimeout,
              onTimeout: () => new ProviderTimeout({ message: `no answer within ${Duration.format(config.aiTimeout)}` })
            }),
            Effect.either
          )
          if (answer._tag === "Right") return { provider: provider.name, model: provider.model, answer: answer.right, fallbacks } satisfies AnalysisResult
          const error = describeFailure(Cause.fail(answer.left)).slice(0, 1000)
          fallbacks.push({ provider: provider.name, model: provider.model, error })
          yield* Effect.logWarning("analysis provider failed; trying the next").pipe(
            Effect.annotateLogs({ provider: provider.name, model: provider.model, error })
          )
        }
        return { provider: "heuristic", model: heuristicModel, answer: classify(evidenceOf(c)), fallbacks } satisfies AnalysisResult
      })

    /** One attempt of an analysis job. */
    const run = (bugId: BugId) =>
      caseOf(bugId).pipe(
        Effect.flatMap(analyse),
        Effect.map((result): Outcome => ({ _tag: "Done", result: stored(result) })),
        Effect.catchTag("NotFound", (e): Effect.Effect<Outcome> => Effect.succeed({ _tag: "Failed", error: e.message }))
      )

    /** How long one attempt may hold its job: every provider's timeout, and some. */
    const lease = Duration.sum(Duration.times(config.aiTimeout, providers.length + 1), Duration.seconds(30))

    return { enqueue, request, list, latestJson, attachLatest, run, lease } as const
  }),
  dependencies: [Jobs.Default, Bugs.Default, Reports.Default]
}) {}

/** A provider that did not answer within `BUGBOTS_AI_TIMEOUT`. */
class ProviderTimeout extends Data.TaggedError("ProviderTimeout")<{ readonly message: string }> {}
