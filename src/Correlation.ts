import { Effect, FiberRef, FiberRefs, HashMap, Logger } from "effect"

/** The id tying a request (or a webhook delivery) to its log lines and emitted events. */
export const CurrentCorrelationId = FiberRef.unsafeMake<string | null>(null)

/** Runs `effect` under correlation id `id`: its log lines carry it (see `withCorrelationIds`), its events record it. */
export const withCorrelationId =
  (id: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.locally(effect, CurrentCorrelationId, id)

export const correlationId = FiberRef.get(CurrentCorrelationId)

/**
 * `logger` with the line's correlation id as annotation `correlation_id`, read when a line is
 * written: a request sets one fiber ref, and pays for the annotation only when it logs.
 */
export const withCorrelationIds = <Message, Output>(logger: Logger.Logger<Message, Output>) =>
  Logger.mapInputOptions(logger, (options: Logger.Logger.Options<Message>) => {
    const id = FiberRefs.getOrDefault(options.context, CurrentCorrelationId)
    return id === null ? options : { ...options, annotations: HashMap.set(options.annotations, "correlation_id", id as unknown) }
  })
