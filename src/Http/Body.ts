import { HttpServerError, type HttpServerRequest } from "@effect/platform"
import { Data, Effect, Stream } from "effect"

/** Request bodies, whatever the route: bounded by the body limit, readable however the route reads them. */

/** The request with `bytes` as its body, already read: every way of reading it reads those bytes. */
export const withBody = (request: HttpServerRequest.HttpServerRequest, bytes: Uint8Array): HttpServerRequest.HttpServerRequest => {
  const text = new TextDecoder().decode(bytes)
  return Object.create(request, {
    arrayBuffer: { value: Effect.succeed(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) },
    text: { value: Effect.succeed(text) },
    stream: { value: Stream.succeed(bytes) },
    json: {
      value: Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: (cause) => new HttpServerError.RequestError({ request, reason: "Decode", cause })
      })
    }
  }) as HttpServerRequest.HttpServerRequest
}

export class BodyTooLarge extends Data.TaggedError("BodyTooLarge") {}

/** Reads a body of unknown length (chunked) up to `limit` bytes: past it, stops reading and fails. */
const readAtMost = (request: HttpServerRequest.HttpServerRequest, limit: number) =>
  Stream.runFoldEffect(request.stream, { size: 0, chunks: [] as Array<Uint8Array> }, (read, chunk) => {
    const size = read.size + chunk.byteLength
    if (size > limit) return Effect.fail(new BodyTooLarge())
    read.chunks.push(chunk)
    return Effect.succeed({ size, chunks: read.chunks })
  }).pipe(Effect.map(({ chunks, size }) => Buffer.concat(chunks, size)))

/**
 * The body as the routes will read it, bounded by `limit` whatever its framing: a declared length
 * over the limit is refused unread; a chunked body is read here, at most `limit` bytes of it (Bun's
 * own bound is set far above, so that every 413 is ours, in the envelope).
 */
export const boundedBody = (request: HttpServerRequest.HttpServerRequest, limit: number) => {
  if (request.headers["transfer-encoding"] === undefined) {
    return Number(request.headers["content-length"] ?? 0) > limit ? Effect.fail(new BodyTooLarge()) : Effect.succeed(request)
  }
  return readAtMost(request, limit).pipe(Effect.map((bytes) => withBody(request, bytes)))
}

/**
 * Holds a route to its own body limit (the global bound is the largest any route allows): by the
 * declared length, or by what was read of a chunked body.
 */
export const withinLimit = (request: HttpServerRequest.HttpServerRequest, limit: number): Effect.Effect<void, BodyTooLarge> => {
  const length = request.headers["content-length"]
  if (length !== undefined) return Number(length) > limit ? Effect.fail(new BodyTooLarge()) : Effect.void
  if (request.headers["transfer-encoding"] === undefined) return Effect.void
  return request.arrayBuffer.pipe(
    Effect.orElseSucceed(() => new ArrayBuffer(0)),
    Effect.flatMap((bytes) => (bytes.byteLength > limit ? Effect.fail(new BodyTooLarge()) : Effect.void))
  )
}

/** Whether the request carries a body at all. */
export const hasBody = (request: HttpServerRequest.HttpServerRequest) =>
  Number(request.headers["content-length"] ?? 0) > 0 || request.headers["transfer-encoding"] !== undefined

