import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Duration, Effect, Either, Layer, Option } from "effect"
import { correlationId } from "../Correlation.js"
import { errorResponse } from "../Http/Envelope.js"
import { codeOf } from "../Http/ErrorEnvelope.js"
import { RateLimits } from "../RateLimits/RateLimits.js"
import { fromSentry } from "./Event.js"
import { maxEnvelopeBytes, maxEventBytes } from "./Limits.js"
import { Reports } from "./Reports.js"
import { decompress, type Refusal, eventOf, parseEnvelope } from "./SentryEnvelope.js"


/** The key of a Sentry request: `?sentry_key=` (JavaScript SDKs) or `X-Sentry-Auth: Sentry sentry_key=…, …` (others). */
const sentryKeyOf = (request: HttpServerRequest.HttpServerRequest) => {
  const query = new URL(request.url, "http://localhost").searchParams.get("sentry_key")
  if (query !== null) return query
  const auth = request.headers["x-sentry-auth"]
  return auth === undefined ? undefined : /(?:^|[\s,])sentry_key\s*=\s*([^,\s]+)/i.exec(auth)?.[1]
}

const eventIdOf = (u: unknown) => (typeof u === "string" && /^[0-9a-f-]{32,36}$/i.test(u) ? u.replaceAll("-", "").toLowerCase() : undefined)
const newEventId = () => crypto.randomUUID().replaceAll("-", "")

type Failure = { readonly status: number; readonly code: string; readonly message: string; readonly retryAfter?: Duration.Duration }

const refused = (refusal: Refusal): Failure =>
  refusal._tag === "TooLarge" ? { status: 413, code: "PAYLOAD_TOO_LARGE", message: refusal.message } : { status: 400, code: "MALFORMED_REPORT", message: refusal.message }

/** A failure in the contract's envelope; a rate limit also in Sentry's own terms, so SDKs back off. */
const respondFailure = (failure: Failure) =>
  Effect.map(correlationId, (requestId) => {
    const response = errorResponse(failure.status, { code: failure.code, message: failure.message }, requestId ?? "")
    if (failure.retryAfter === undefined) return response
    const seconds = String(Math.max(1, Math.ceil(Duration.toSeconds(failure.retryAfter))))
    return response.pipe(
      HttpServerResponse.setHeader("retry-after", seconds),
      HttpServerResponse.setHeader("x-sentry-rate-limits", `${seconds}:error:key`)
    )
  })

/**
 * Sentry's ingest protocol (contract §9) on the service's port: `POST /api/{project_id}/envelope/`
 * and `/store/`, with or without the trailing slash. A raw route (its media type is Sentry's,
 * and no content type is required): the key, then the rate limit, then the body, decompressed
 * within the limits; each `event` item is stored and grouped before the answer, every other item
 * type is accepted and ignored.
 */
export const SentryRoutes = Layer.unwrapEffect(
  Effect.gen(function* () {
    const reports = yield* Reports
    const limits = yield* RateLimits

    const handle = (kind: "envelope" | "store") =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const params = yield* HttpLayerRouter.params
        const projectId = Number(params.project_id)
        if (!/^[1-9][0-9]{0,15}$/.test(params.project_id ?? "")) {
          return yield* Effect.fail<Failure>({ status: 400, code: "MALFORMED_REPORT", message: "the project id must be a positive integer" })
        }
        const target = yield* reports.target(sentryKeyOf(request), projectId).pipe(
          Effect.mapError((e): Failure => ({ status: e._tag === "Unauthenticated" ? 401 : 403, code: codeOf(e._tag), message: e.message }))
        )
        const limited = yield* limits.ingest(target.keyId)
        if (Option.isSome(limited)) {
          return yield* Effect.fail<Failure>({
            status: 429,
            code: "RATE_LIMITED",
            message: "this ingest key sent more events this minute than BUGBOTS_INGEST_RATE_LIMIT allows",
            retryAfter: limited.value.retryAfter
          })
        }
        const raw = new Uint8Array(yield* request.arrayBuffer.pipe(
          Effect.mapError((): Failure => ({ status: 400, code: "MALFORMED_REPORT", message: "the body could not be read" }))
        ))
        const body = yield* Either.mapLeft(decompress(raw, request.headers["content-encoding"], maxEnvelopeBytes), refused)

        const store = (payload: Uint8Array, fallbackId: string | undefined) =>
          Effect.gen(function* () {
            if (payload.byteLength > maxEventBytes) {
              return yield* Effect.fail<Failure>({ status: 413, code: "PAYLOAD_TOO_LARGE", message: `an event exceeds ${maxEventBytes} bytes` })
            }
            const event = eventOf(payload)
            if (event === undefined) return yield* Effect.fail<Failure>({ status: 400, code: "MALFORMED_REPORT", message: "the event is not a JSON object" })
            const eventId = eventIdOf(event.event_id) ?? fallbackId ?? newEventId()
            yield* reports.ingest(target.repo, fromSentry(event, eventId), new TextDecoder().decode(payload), eventId)
            return eventId
          })

        if (kind === "store") return { id: yield* store(body, undefined) }
        const envelope = yield* Either.mapLeft(parseEnvelope(body), refused)
        const headerId = eventIdOf(envelope.header.event_id)
        let id = headerId
        for (const item of envelope.items) {
          if (item.type === "event") id = yield* store(item.payload, headerId)
        }
        return { id: id ?? newEventId() }
      }).pipe(
        Effect.map((answer) => HttpServerResponse.unsafeJson(answer)),
        Effect.catchTag("ServiceUnavailable", (e) => Effect.fail<Failure>({ status: 503, code: codeOf(e._tag), message: e.message })),
        // A report's own bug vanished while it was stored: not the client's doing.
        Effect.catchTag("NotFound", Effect.die),
        Effect.catchAll(respondFailure)
      )

    // The router takes a path with or without its trailing slash alike.
    return HttpLayerRouter.addAll([
      HttpLayerRouter.route("POST", "/api/:project_id/envelope", handle("envelope")),
      HttpLayerRouter.route("POST", "/api/:project_id/store", handle("store"))
    ])
  })
)
