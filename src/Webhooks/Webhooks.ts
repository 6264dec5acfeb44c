import type { HttpServerRequest } from "@effect/platform"
import { Webhooks as OctokitWebhooks } from "@octokit/webhooks"
import { Effect, Option, Redacted, Schema } from "effect"
import type { Principal } from "../Auth/Principal.js"
import { AppConfig } from "../Config.js"
import { correlationId } from "../Correlation.js"
import { Forbidden, NotFound, ServiceUnavailable, ValidationFailed } from "../Domain/Errors.js"
import { withDb } from "../Sql/Retry.js"
import { DeliveryId, DeliveryInFlight, type DeliveryStatus, InvalidSignature, PayloadTooLarge, type Receipt } from "../Domain/Webhook.js"
import { isHandled } from "./GitHub.js"
import { WebhookLedger } from "./Ledger.js"
import { WebhookWakeup } from "./Worker.js"

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

/**
 * The receiving end of GitHub webhooks (contract §6): verify, store in the ledger, answer; the
 * workers of `Worker.ts` act on the stored delivery afterwards. Plus the superuser's view of the
 * ledger: list by status, replay.
 */
export class Webhooks extends Effect.Service<Webhooks>()("bugbots/Webhooks", {
  effect: Effect.gen(function* () {
    const config = yield* AppConfig
    const ledger = yield* WebhookLedger
    const wakeup = yield* WebhookWakeup
    const verifier = Option.map(config.githubWebhookSecret, (secret) => new OctokitWebhooks({ secret: Redacted.value(secret) }))

    const readBody = (request: HttpServerRequest.HttpServerRequest) =>
      request.arrayBuffer.pipe(
        Effect.mapError(() => new ValidationFailed({ message: "the body could not be read" })),
        Effect.filterOrFail(
          (bytes) => bytes.byteLength <= config.maxBodyBytes,
          () => new PayloadTooLarge({ message: `the body exceeds ${config.maxBodyBytes} bytes` })
        ),
        Effect.flatMap((bytes) =>
          Effect.try({
            try: () => utf8.decode(bytes),
            catch: () => new ValidationFailed({ message: "the body is not JSON (not UTF-8)" })
          })
        ),
        Effect.filterOrFail((text) => text.length > 0, () => new ValidationFailed({ message: "the body is empty, not JSON" }))
      )

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
      const handled = isHandled(event, action)
      const stored = yield* ledger
        .insert({ id: deliveryId.value, event, action, body, status: handled ? "pending" : "ignored", requestId: yield* correlationId })
        .pipe(withDb)
      if (!stored) return { status: "DUPLICATE", delivery_id: deliveryId.value } satisfies Receipt
      if (handled) yield* wakeup.nudge
      return { status: handled ? "ACCEPTED" : "IGNORED", delivery_id: deliveryId.value } satisfies Receipt
    })

    const requireSuperuser = (principal: Principal) =>
      principal.type === "user" && principal.is_superuser
        ? Effect.void
        : Effect.fail(new Forbidden({ message: "only a superuser can see and replay webhook deliveries" }))

    const list = Effect.fn("Webhooks.list")(function* (
      principal: Principal,
      statuses: ReadonlyArray<DeliveryStatus> | undefined,
      limit: number,
      cursor: string | undefined
    ) {
      yield* requireSuperuser(principal)
      return yield* ledger.list(statuses, limit, cursor).pipe(withDb)
    })

    /** Queues a settled delivery again with fresh attempts (after fixing what made it fail). */
    const replay = Effect.fn("Webhooks.replay")(function* (principal: Principal, id: DeliveryId) {
      yield* requireSuperuser(principal)
      const queued = yield* ledger.requeue(id).pipe(withDb)
      if (queued !== null) {
        yield* wakeup.nudge
        return queued
      }
      const current = yield* ledger.find(id).pipe(withDb)
      if (current === null) return yield* Effect.fail(NotFound.of("webhook delivery", id))
      return yield* new DeliveryInFlight({ message: `delivery ${id} is ${current.status} already` })
    })

    return { receive, list, replay } as const
  }),
  dependencies: [WebhookLedger.Default, WebhookWakeup.Default]
}) {}
