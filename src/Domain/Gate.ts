import { Schema } from "effect"
import { NullableTimestamp, Payload, Text, Timestamp } from "./Fields.js"
import { RepoId } from "./Ids.js"

/**
 * The pull-request gate (contract §10): a repo may ask the authors of pull requests to comment
 * `/verify` before a deadline, or see their pull request closed.
 */

/** A GitHub login pattern: letters, digits, `-`, `[bot]` suffixes, and `*` for any run of characters. */
const LoginPattern = Text(100).pipe(Schema.pattern(/^[A-Za-z0-9*\-_.[\]]+$/)).annotations({
  description: "a GitHub login; `*` matches any run of characters (`dependabot*`, `*-bot`, `*`); case-insensitive"
})

export class GateSettings extends Schema.Class<GateSettings>("GateSettings")({
  repo_id: RepoId,
  enabled: Schema.Boolean,
  deadline_hours: Schema.Int,
  allowlist: Schema.Array(Schema.String),
  exempt_drafts: Schema.Boolean,
  message: Schema.NullOr(Schema.String),
  updated_at: NullableTimestamp
}) {}

/** `PUT /repos/{id}/gate`: the whole configuration (omitted fields take their defaults). */
export const UpdateGate = Payload({
  enabled: Schema.Boolean,
  deadline_hours: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 8760)), { default: () => 72 }),
  allowlist: Schema.optionalWith(Schema.Array(LoginPattern).pipe(Schema.maxItems(200)), { default: () => [] }),
  exempt_drafts: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  message: Schema.optionalWith(
    Schema.NullOr(
      Text(4000).annotations({
        description: "the challenge comment's text instead of the default; `{author}` and `{deadline}` are replaced"
      })
    ),
    { default: () => null }
  )
})
export type UpdateGate = typeof UpdateGate.Type

export const ChallengeStatus = Schema.Literal("PENDING", "VERIFIED", "EXEMPT", "EXPIRED", "CLOSED")
export type ChallengeStatus = typeof ChallengeStatus.Type

/** `GET /repos/{id}/pull-requests/{number}/gate`. */
export class Challenge extends Schema.Class<Challenge>("Challenge")({
  status: ChallengeStatus,
  deadline_at: NullableTimestamp,
  author: Schema.String,
  updated_at: Timestamp
}) {}

const escape = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")

/** Whether `login` matches one of `patterns` (`*`: any run of characters), ignoring case as GitHub does. */
export const isAllowlisted = (login: string, patterns: ReadonlyArray<string>) =>
  patterns.some((pattern) => new RegExp(`^${pattern.split("*").map(escape).join(".*")}$`, "i").test(login))

/** A bot: a `[bot]` login or an account of type `Bot`. */
export const isBot = (user: { readonly login: string; readonly type?: string | undefined }) =>
  user.login.toLowerCase().endsWith("[bot]") || user.type === "Bot"
