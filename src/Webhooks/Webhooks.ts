import type { HttpServerRequest } from "@effect/platform"
import { requireSuperuser } from "../Auth/Policy.js"
import { Webhooks as OctokitWebhooks } from "@octokit/webhooks"
import { Effect, Option, Redacted, Schema } from "effect"
import type { Principal } from "../Auth/Principal.js"
import { AppConfig } from "../Config.js"
import { correlationId } from "../Correlation.js"
import { NotFound, PayloadTooLarge, ServiceUnavailable, ValidationFailed } from "../Domain/Errors.js"
import {
  DeliveryId,
  DeliveryInFlight,
  type DeliveryStatus,
  InvalidSignature,
  type Receipt,
  WebhookDelivery
} from "../Domain/Webhook.js"
import { Jobs, type JobStatus } from "../Jobs/Jobs.js"
import { decodeJsonRows, iso } from "../Sql/Json.js"
import { withDb } from "../Sql/Retry.js"
import { withinLimit } from "../Http/Body.js"
import { isHandled } from "./GitHub.js"

const decodeDeliveryId = Schema.decodeUnknownOption(DeliveryId)
const eventName = /^[\x21-\x7e]{1,100}$/
const utf8 = new TextDecoder("utf-8", { fatal: true })

const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const parseObject = (text: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    return isJsonObject(value) ? value : undefined
  } catch {
    return undefined
  }
}

/** The job kind of a stored GitHub delivery; one ledger for every path a delivery arrives by (contract §6, §10). */
export const deliveryKind = "github.delivery"

/** Deliveries are deduplicated by delivery id and event (neither holds a space). */
export const deliveryKey = (deliveryId: string, event: string) => `${event} ${deliveryId}`

const wireStatus = `case j.status when 'running' then 'processing' when 'done' then 'processed' else j.status end`
const jobStatuses: Record<DeliveryStatus, JobStatus> = {
  pending: "pending",
  processing: "running",
  processed: "done",
  failed: "failed",
  ignored: "ignored"
}

/** A delivery job as the admin endpoints show it (not the payload). */
const rendered = `json_build_object(
  'id', j.meta ->> 'delivery_id', 'event', j.meta ->> 'event', 'action', j.meta ->> 'action', 'status', ${wireStatus},
  'attempts', j.attempts, 'next_attempt_at', ${iso("j.run_at")}, 'last_error', j.last_error, 'request_id', j.correlation_id,
  'received_at', ${iso("j.created_at")}, 'processed_at', ${iso("j.finished_at")})`
const decodeDeliveries = decodeJsonRows(WebhookDelivery)

/**
 * The receiving end of GitHub webhooks (contract §6): verify, store the delivery as a job, answer;
 * the workers of `Worker.ts` act on it afterwards. Plus the superuser's view of the ledger: list by
 * status, replay.
 */
export class Webhooks extends Effect.Service<Webhooks>()("bugbots/Webhooks", {
  effect: Effect.gen(function* () {
    const config = yield* AppConfig
    const jobs = yield* Jobs
    const verifier = Option.map(config.githubWebhookSecret, (secret) => new OctokitWebhooks({ secret: Redacted.value(secret) }))

    const readBody = (request: HttpServerRequest.HttpServerRequest) =>
      withinLimit(request, config.maxBodyBytes).pipe(
        Effect.mapError(() => new PayloadTooLarge({ message: `the body exceeds ${config.maxBodyBytes} bytes` })),
        Effect.zipRight(request.arrayBuffer.pipe(Effect.mapError(() => new ValidationFailed({ message: "the body could not be read" })))),
        Effect.flatMap((bytes) =>
          Effect.try({
            try: () => utf8.decode(bytes),
            catch: () => new ValidationFailed({ message: "the body is not JSON (not UTF-8)" })
          })
        ),
        Effect.filterOrFail((text) => text.length > 0, () => new ValidationFailed({ message: "the body is empty, not JSON" }))
      )

    /**
     * Stores a delivery durably (group-committed with concurrent ones) before it is answered; one
     * bugbots does not act on is stored `ignored`. False for a duplicate.
     */
    const store = (deliveryId: string, event: string, action: string | null, body: string) =>
      Effect.flatMap(correlationId, (requestId) =>
        jobs.enqueueDurably({
          kind: deliveryKind,
          key: deliveryKey(deliveryId, event),
          payload: body,
          meta: { delivery_id: deliveryId, event, action },
          status: isHandled(event, action) ? "pending" : "ignored",
          maxAttempts: config.webhookMaxAttempts,
          correlationId: requestId
        })
      ).pipe(withDb)

    /**
     * Checks in this order: configured (503), headers (400), signature on the raw body (401), JSON
     * (400); then stores the delivery before answering, so a 202 is never lost.
     */
    const receive = Effect.fn("Webhooks.receive")(function* (request: HttpServerRequest.HttpServerRequest) {
      if (Option.isNone(verifier)) {
        return yield* new ServiceUnavailable({ message: "GitHub webhooks are not configured (GITHUB_WEBHOOK_SECRET is unset)" })
      }
      const event = request.headers["x-github-event"]
      const delivery = request.headers["x-github-delivery"]
      const missing = [event ? null : "X-GitHub-Event", delivery ? null : "X-GitHub-Delivery"].filter((h) => h !== null)
      if (missing.length > 0) {
        return yield* new ValidationFailed({ message: `missing header ${missing.join(", ")}`, details: { missing_headers: missing } })
      }
      if (!eventName.test(event)) return yield* new ValidationFailed({ message: "X-GitHub-Event is not an event name" })
      const deliveryId = decodeDeliveryId(delivery)
      if (Option.isNone(deliveryId)) {
        return yield* new ValidationFailed({ message: "X-GitHub-Delivery must be 1 to 200 printable characters" })
      }
      const signature = request.headers["x-hub-signature-256"]
      if (!signature) return yield* new InvalidSignature({ message: "X-Hub-Signature-256 is missing" })
      const body = yield* readBody(request)
      const valid = yield* Effect.tryPromise(() => verifier.value.verify(body, signature)).pipe(Effect.orElseSucceed(() => false))
      if (!valid) return yield* new InvalidSignature({ message: "X-Hub-Signature-256 does not match the body" })
      const payload = parseObject(body)
      if (payload === undefined) return yield* new ValidationFailed({ message: "the body is not a JSON object" })
      const action = typeof payload.action === "string" ? payload.action : null
      const stored = yield* store(deliveryId.value, event, action, body)
      if (!stored) return { status: "DUPLICATE", delivery_id: deliveryId.value } satisfies Receipt
      return { status: isHandled(event, action) ? "ACCEPTED" : "IGNORED", delivery_id: deliveryId.value } satisfies Receipt
    })

    /**
     * A delivery forwarded by a bot worker (contract §10, signed by the caller's route): stored in
     * the same ledger as `receive`'s, deduplicated by delivery id and event, with the same effects.
     */
    const forward = Effect.fn("Webhooks.forward")(function* (deliveryId: string, event: string, payload: Record<string, unknown>) {
      const action = typeof payload.action === "string" ? payload.action : null
      const stored = yield* store(deliveryId, event, action, JSON.stringify(payload))
      if (!stored) return { status: "DUPLICATE", delivery_id: deliveryId } satisfies Receipt
      return { status: isHandled(event, action) ? "ACCEPTED" : "IGNORED", delivery_id: deliveryId } satisfies Receipt
    })

    const list = Effect.fn("Webhooks.list")(function* (
      principal: Principal,
      statuses: ReadonlyArray<DeliveryStatus> | undefined,
      limit: number,
      cursor: string | undefined
    ) {
      yield* requireSuperuser(principal, "see and replay webhook deliveries")
      const page = yield* jobs.list(deliveryKind, statuses?.map((s) => jobStatuses[s]), rendered, limit, cursor).pipe(withDb)
      return { items: yield* decodeDeliveries(page.items.map((json) => ({ json }))), next_cursor: page.next_cursor }
    })

    /** Queues a settled delivery again with fresh attempts (after fixing what made it fail). */
    const replay = Effect.fn("Webhooks.replay")(function* (principal: Principal, id: DeliveryId) {
      yield* requireSuperuser(principal, "see and replay webhook deliveries")
      const retried = yield* jobs.retry(deliveryKind, { meta: { field: "delivery_id", value: id } }, rendered).pipe(withDb)
      switch (retried._tag) {
        case "Requeued":
          return (yield* decodeDeliveries([retried]))[0]
        case "Unknown":
          return yield* Effect.fail(NotFound.of("webhook delivery", id))
        case "InFlight":
          return yield* new DeliveryInFlight({ message: `delivery ${id} is ${retried.status === "running" ? "processing" : "queued"} already` })
      }
    })

    /** Which deliveries (GUID and event, as GitHub lists them) the ledger holds: their GUIDs. */
    const received = (deliveries: ReadonlyArray<{ readonly guid: string; readonly event: string }>) =>
      jobs.storedKeys(deliveryKind, deliveries.map((d) => deliveryKey(d.guid, d.event))).pipe(
        Effect.map((keys) => new Set(deliveries.filter((d) => keys.has(deliveryKey(d.guid, d.event))).map((d) => d.guid)))
      )

    return { receive, store, forward, list, replay, received } as const
  }),
  dependencies: [Jobs.Default]
}) {}
