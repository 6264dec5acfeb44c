import { Schema } from "effect"
import { NullableTimestamp, Timestamp } from "./Fields.js"
import { BugId } from "./Ids.js"
import { PageParams } from "./Page.js"

/** Root-cause analyses of a bug (contract §13). */

export const AnalysisId = Schema.UUID.pipe(Schema.brand("AnalysisId"))
export type AnalysisId = typeof AnalysisId.Type

export const Risk = Schema.Literal("low", "medium", "high")
export type Risk = typeof Risk.Type

/** The providers an analysis may come from; `heuristic` is built in, offline, and always tried last. */
export const AiProvider = Schema.Literal("anthropic", "openai", "heuristic")
export type AiProvider = typeof AiProvider.Type

/**
 * What a provider must answer: the structured output asked of a model, decoded with this schema. An
 * answer that does not decode is that provider's failure (the next one is tried). Every field is
 * required (`patch` nullable) so that OpenAI's strict JSON-schema mode accepts it as it is.
 */
export const AnalysisAnswer = Schema.Struct({
  classification: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100)).annotations({
    description: "a short snake_case class of the failure, e.g. null_reference, timeout, connection_refused, validation"
  }),
  root_cause: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4000)).annotations({
    description: "the most likely root cause, in a few sentences, naming the code involved"
  }),
  confidence: Schema.Number.pipe(Schema.between(0, 1)).annotations({ description: "how sure, 0..1" }),
  risk: Risk.annotations({ description: "how risky the bug is to leave, and the fix to make" }),
  suggested_fix: Schema.Struct({
    summary: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4000)),
    patch: Schema.NullOr(Schema.String.pipe(Schema.maxLength(20000))).annotations({ description: "a unified diff, or null" })
  })
}).annotations({ description: "A root-cause analysis of a bug" })
export type AnalysisAnswer = typeof AnalysisAnswer.Type

export const AnalysisStatus = Schema.Literal("pending", "done", "failed")
export type AnalysisStatus = typeof AnalysisStatus.Type

/** A provider tried before the one that answered, and why it was passed over. */
export const ProviderFailure = Schema.Struct({
  provider: AiProvider,
  model: Schema.String,
  error: Schema.String
})

/** An analysis as `GET /bugs/{id}/analyses` lists it; result fields are null until it is done. */
export class Analysis extends Schema.Class<Analysis>("Analysis")({
  id: AnalysisId,
  bug_id: BugId,
  status: AnalysisStatus,
  provider: Schema.NullOr(AiProvider).annotations({ description: "who answered; heuristic is the built-in rules, not a model" }),
  model: Schema.NullOr(Schema.String),
  classification: Schema.NullOr(Schema.String),
  root_cause: Schema.NullOr(Schema.String),
  confidence: Schema.NullOr(Schema.Number.pipe(Schema.between(0, 1))),
  risk: Schema.NullOr(Risk),
  suggested_fix: Schema.NullOr(Schema.Struct({ summary: Schema.String, patch: Schema.optional(Schema.String) })),
  fallbacks: Schema.Array(ProviderFailure).annotations({
    description: "providers tried before the one that answered, in order, each with why it failed (timeout, error, undecodable answer)"
  }),
  error: Schema.optional(Schema.String).annotations({ description: "why a failed analysis failed" }),
  created_at: Timestamp,
  finished_at: NullableTimestamp
}) {}

/** What a provider's answer becomes once stored. */
export interface AnalysisResult {
  readonly provider: AiProvider
  readonly model: string
  readonly answer: AnalysisAnswer
  readonly fallbacks: ReadonlyArray<typeof ProviderFailure.Type>
}

export const AnalysisAccepted = Schema.Struct({ id: AnalysisId, status: Schema.Literal("pending") })

export const ListAnalysesParams = Schema.Struct(PageParams)
