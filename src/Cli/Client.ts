import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Config, Context, Data, Duration, Effect, Layer, Option, Redacted, Schedule } from "effect"
import { Api } from "../Api.js"

/**
 * A failed call of the service, as the CLI tells it: the envelope's code and message (contract §2),
 * or why no answer came. `transient` failures (503, 429, no connection) are retried first.
 */
export class ServiceFailure extends Data.TaggedError("ServiceFailure")<{
  readonly status: number
  readonly code: string
  readonly message: string
  readonly retryAfter: Option.Option<Duration.Duration>
}> {
  get transient() {
    return this.status === 0 || this.status === 429 || this.status === 502 || this.status === 503 || this.status === 504
  }
}

/** Where the service is and who the CLI is (contract §12): `BUGBOTS_URL`, `BUGBOTS_TOKEN`. */
export const ServiceConfig = Config.all({
  url: Config.url("BUGBOTS_URL").pipe(Config.withDefault(new URL("http://localhost:3000"))),
  token: Config.redacted("BUGBOTS_TOKEN"),
  /** How many times a call is retried while the service is unavailable, rate-limited or unreachable. */
  retries: Config.integer("BUGBOTS_CLI_RETRIES").pipe(
    Config.validate({ message: "BUGBOTS_CLI_RETRIES must be 0 or more", validation: (n) => n >= 0 }),
    Config.withDefault(8)
  )
})

const retryAfterOf = (response: HttpClientResponse.HttpClientResponse) => {
  const seconds = Number(response.headers["retry-after"])
  return Number.isFinite(seconds) && seconds >= 0 ? Option.some(Duration.seconds(Math.min(seconds, 60))) : Option.none()
}

/** An error response read as the envelope it is; a body that is not one still says its status. */
const failureOf = (response: HttpClientResponse.HttpClientResponse) =>
  response.json.pipe(
    Effect.option,
    Effect.flatMap((body) => {
      const error = Option.getOrUndefined(body) as { error?: { code?: unknown; message?: unknown } } | undefined
      return Effect.fail(
        new ServiceFailure({
          status: response.status,
          code: typeof error?.error?.code === "string" ? error.error.code : `HTTP_${response.status}`,
          message: typeof error?.error?.message === "string" ? error.error.message : `the service answered ${response.status}`,
          retryAfter: retryAfterOf(response)
        })
      )
    })
  )

/**
 * How the CLI retries the service while it is unavailable, rate-limited or unreachable: exponential
 * from 250 ms with jitter, at least what `retry-after` says, `retries` times (8 by default: about
 * half a minute).
 */
const serviceRetry = (retries: number) => Schedule.exponential("250 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(retries)),
  Schedule.intersect(Schedule.identity<ServiceFailure>()),
  Schedule.modifyDelay(([, failure], delay) => Option.match(failure.retryAfter, { onNone: () => delay, onSome: (wait) => Duration.max(delay, wait) })),
  Schedule.whileInput((failure: ServiceFailure) => failure.transient)
)

const make = Effect.gen(function* () {
  const { url, token, retries } = yield* ServiceConfig
  const base = yield* HttpClient.HttpClient
  const httpClient = base.pipe(
    HttpClient.mapRequest(HttpClientRequest.bearerToken(Redacted.value(token))),
    HttpClient.catchAll(
      (error): Effect.Effect<never, ServiceFailure> =>
        Effect.fail(new ServiceFailure({ status: 0, code: "UNREACHABLE", message: `cannot reach ${url.origin}: ${error.message}`, retryAfter: Option.none() }))
    ),
    HttpClient.transformResponse(Effect.flatMap((response) => (response.status >= 400 ? failureOf(response) : Effect.succeed(response)))),
    HttpClient.retry(serviceRetry(retries))
  )
  const api = yield* HttpApiClient.makeWith(Api, { httpClient, baseUrl: url.href.replace(/\/+$/, "") })
  return { api, url } as const
})

/** The typed client of the service's REST API (the `Api` it serves), for the CLI's commands. */
export class ServiceClient extends Context.Tag("bugbots/cli/ServiceClient")<ServiceClient, Effect.Effect.Success<typeof make>>() {
  static readonly layer = Layer.effect(ServiceClient, make).pipe(Layer.provide(FetchHttpClient.layer))
}

/** A call's failures as the CLI shows them: the service's own, and answers it could not read. */
export const call = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, ServiceFailure, R> =>
  Effect.mapError(effect, (error) =>
    error instanceof ServiceFailure
      ? error
      : new ServiceFailure({ status: 0, code: "BAD_RESPONSE", message: `an answer the CLI cannot read: ${String(error)}`, retryAfter: Option.none() })
  )
