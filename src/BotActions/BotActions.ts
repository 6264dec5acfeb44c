import type { HttpServerRequest } from "@effect/platform"
import { requireSuperuser } from "../Auth/Policy.js"
import { SqlClient } from "@effect/sql"
import { DateTime, Duration, Effect, Option, ParseResult, Redacted, type Schedule, Schema } from "effect"
import type { Principal } from "../Auth/Principal.js"
import { AppConfig } from "../Config.js"
import { correlationId } from "../Correlation.js"
import {
  ActionInFlight,
  type ActionResult,
  BotAction,
  type BotActionPayload,
  type BotActionStatus,
  type ClaimedAction
} from "../Domain/BotAction.js"
import { NotFound, PayloadTooLarge, ServiceUnavailable, ValidationFailed } from "../Domain/Errors.js"
import { InvalidSignature } from "../Domain/Webhook.js"
import { withinLimit } from "../Http/Body.js"
import { backoff, Jobs, type JobStatus, type Outcome } from "../Jobs/Jobs.js"
import { isIssued, leaseLost } from "../Leases/Leases.js"
import { decodeJsonRows, iso } from "../Sql/Json.js"
import { withDb } from "../Sql/Retry.js"
import { refusal } from "./Signature.js"

/** Bot actions are jobs of this kind: one outbox, on the one jobs engine (contract §10). */
export const actionKind = "github.action"

/** The named backoff of failed attempts: exponential from `base` with jitter, each wait capped at 10 minutes. */
export const botActionRetry = (base: Duration.Duration) => backoff(base) as Schedule.Schedule<unknown, unknown>

/** Actions on one comment run one at a time, in order: the last one's text is the comment's. */
export const serialOf = (action: Pick<BotActionPayload, "repo_full_name" | "number" | "marker">) =>
  `${action.repo_full_name}#${action.number}:${action.marker}`

const jobStatuses: Record<BotActionStatus, JobStatus> = { PENDING: "pending", CLAIMED: "running", DONE: "done", FAILED: "failed" }

/** An action job as the API shows it, built by PostgreSQL from the row (alias `j`). */
const rendered = `json_build_object(
  'id', j.id, 'type', j.payload ->> 'type',
  'status', case j.status when 'pending' then 'PENDING' when 'running' then 'CLAIMED' when 'done' then 'DONE' else 'FAILED' end,
  'installation_id', j.payload -> 'installation_id', 'repo_full_name', j.payload ->> 'repo_full_name', 'number', j.payload -> 'number',
  'marker', j.payload ->> 'marker', 'body', j.payload ->> 'body', 'attempts', j.attempts, 'max_attempts', j.max_attempts,
  'last_error', j.last_error, 'next_attempt_at', case when j.status = 'pending' then ${iso("j.run_at")} end,
  'lease_expires_at', ${iso("j.lease_expires_at")}, 'result', j.result, 'correlation_id', j.correlation_id,
  'created_at', ${iso("j.created_at")}, 'updated_at', ${iso("j.updated_at")}, 'finished_at', ${iso("j.finished_at")})`
const decodeActions = decodeJsonRows(BotAction)
const utf8 = new TextDecoder("utf-8", { fatal: true })

/** A protocol outcome as the jobs engine settles it. */
export const settlement = (result: Pick<ActionResult, "outcome" | "error" | "retry_after_seconds">, output?: unknown): Outcome => {
  switch (result.outcome) {
    case "SUCCEEDED":
      return { _tag: "Done", result: output }
    case "RETRYABLE_FAILURE":
      return {
        _tag: "Retry",
        error: result.error ?? "retryable failure",
        after: result.retry_after_seconds === undefined ? undefined : Duration.seconds(result.retry_after_seconds)
      }
    case "FAILED":
      return { _tag: "Failed", error: result.error ?? "failed" }
  }
}

/**
 * The bot-action outbox (contract §10): actions are enqueued in the transaction of the change that
 * decides them, claimed under a lease by the in-process executor or by external workers (the
 * signed v2 protocol), settled by the holder of the lease only, retried on `botActionRetry`
 * honouring GitHub's wait, and dead-lettered (`FAILED`) when refused or out of attempts.
 */
export class BotActions extends Effect.Service<BotActions>()("bugbots/BotActions", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const config = yield* AppConfig
    const jobs = yield* Jobs
    const retrySchedule = botActionRetry(config.botActionRetryBase)
    yield* jobs.retryOn(actionKind, retrySchedule)

    /** Enqueues `action` in the caller's transaction (it runs once that commits). */
    const enqueue = (action: BotActionPayload) =>
      Effect.flatMap(correlationId, (id) =>
        jobs.enqueue({
          kind: actionKind,
          key: null,
          payload: JSON.stringify(action),
          meta: {
            type: action.type,
            repo_full_name: action.repo_full_name,
            number: action.number,
            marker: action.marker,
            serial: serialOf(action)
          },
          maxAttempts: config.botActionMaxAttempts,
          correlationId: id
        })
      )

    /** Claims up to `limit` due actions for `leaseSeconds` (concurrent claimers never share one). */
    const claim = Effect.fn("BotActions.claim")(function* (limit: number, leaseSeconds: number) {
      const claimed = yield* jobs.claim(actionKind, limit, Duration.seconds(leaseSeconds)).pipe(withDb)
      return claimed.map((job): ClaimedAction => {
        const payload = JSON.parse(job.payload) as BotActionPayload
        return {
          id: job.id,
          type: payload.type,
          installation_id: payload.installation_id,
          repo_full_name: payload.repo_full_name,
          number: payload.number,
          marker: payload.marker,
          body: payload.body,
          attempt: job.attempts + 1,
          lease_token: job.lease_token,
          lease_expires_at: DateTime.unsafeMake(job.lease_expires_at)
        }
      })
    })

    const find = (id: string) =>
      jobs.find(actionKind, { id }, rendered).pipe(
        withDb,
        Effect.flatMap(decodeActions),
        Effect.flatMap((found) => (found.length === 0 ? Effect.fail(NotFound.of("bot action", id)) : Effect.succeed(found[0])))
      )

    /**
     * Settles an attempt by the holder of its lease; a wrong, released or expired lease is
     * `LEASE_LOST` and changes nothing.
     */
    const result = Effect.fn("BotActions.result")(function* (id: string, request: ActionResult) {
      if (!isIssued(request.lease_token)) {
        yield* find(id)
        return yield* Effect.fail(leaseLost())
      }
      const settled = yield* sql.withTransaction(
        Effect.gen(function* () {
          const held = yield* jobs.leased(actionKind, id, request.lease_token)
          if (Option.isNone(held)) return false
          return yield* jobs.settle(held.value, settlement(request), retrySchedule)
        })
      ).pipe(withDb)
      const action = yield* find(id)
      if (!settled) return yield* Effect.fail(leaseLost())
      return action
    })

    const list = Effect.fn("BotActions.list")(function* (
      principal: Principal,
      statuses: ReadonlyArray<BotActionStatus | "RETRYABLE_FAILURE"> | undefined,
      limit: number,
      cursor: string | undefined
    ) {
      yield* requireSuperuser(principal, "see and retry bot actions")
      const states = statuses?.flatMap((s) => (s === "RETRYABLE_FAILURE" ? [] : [jobStatuses[s]]))
      const retrying = statuses?.includes("RETRYABLE_FAILURE") ?? false
      const page = yield* jobs.list(actionKind, states, rendered, limit, cursor, undefined, retrying).pipe(withDb)
      return { items: yield* decodeActions(page.items.map((json) => ({ json }))), next_cursor: page.next_cursor }
    })

    /** Queues a settled action (`DONE` or `FAILED`) again with fresh attempts. */
    const retry = Effect.fn("BotActions.retry")(function* (principal: Principal, id: string) {
      yield* requireSuperuser(principal, "see and retry bot actions")
      const retried = yield* jobs.retry(actionKind, { id }, rendered).pipe(withDb)
      if (retried._tag === "Unknown") return yield* Effect.fail(NotFound.of("bot action", id))
      const [action] = yield* decodeActions([retried])
      if (retried._tag === "Requeued") return action
      return yield* new ActionInFlight({ message: `bot action ${id} is ${action.status} already` })
    })

    /**
     * The body of a request of the internal v2 protocol, once its signature holds, decoded by
     * `schema`. In this order: 503 (no secret), 401 (timestamp, signature on the raw body), 400.
     */
    const verified = <A, I>(request: HttpServerRequest.HttpServerRequest, schema: Schema.Schema<A, I>) =>
      Effect.gen(function* () {
        if (Option.isNone(config.internalSecret)) {
          return yield* new ServiceUnavailable({ message: "the internal protocol is not configured (BUGBOTS_INTERNAL_SECRET is unset)" })
        }
        yield* withinLimit(request, config.maxBodyBytes).pipe(
          Effect.mapError(() => new PayloadTooLarge({ message: `the body exceeds ${config.maxBodyBytes} bytes` }))
        )
        const bytes = yield* request.arrayBuffer.pipe(Effect.mapError(() => new ValidationFailed({ message: "the body could not be read" })))
        const body = yield* Effect.try({ try: () => utf8.decode(bytes), catch: () => new ValidationFailed({ message: "the body is not UTF-8" }) })
        const refused = refusal(
          Redacted.value(config.internalSecret.value),
          request.headers["x-bugbots-timestamp"],
          request.headers["x-bugbots-signature"],
          body
        )
        if (refused !== undefined) return yield* new InvalidSignature({ message: refused })
        const json = yield* Effect.try({
          try: () => (body.length === 0 ? {} : (JSON.parse(body) as unknown)),
          catch: () => new ValidationFailed({ message: "the body is not JSON" })
        })
        return yield* Schema.decodeUnknown(schema, { onExcessProperty: "error" })(json).pipe(
          Effect.mapError(
            (e) => new ValidationFailed({ message: ParseResult.TreeFormatter.formatErrorSync(e), details: ParseResult.ArrayFormatter.formatErrorSync(e) })
          )
        )
      })

    return { enqueue, claim, result, find, list, retry, verified, retrySchedule } as const
  }),
  dependencies: [Jobs.Default]
}) {}
