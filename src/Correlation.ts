import { Effect, FiberRef } from "effect"

/** The id tying a request (or a webhook delivery) to its log lines and emitted events. */
export const CurrentCorrelationId = FiberRef.unsafeMake<string | null>(null)

export const withCorrelationId =
  (id: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.locally(CurrentCorrelationId, id), Effect.annotateLogs("correlation_id", id))

export const correlationId = FiberRef.get(CurrentCorrelationId)
