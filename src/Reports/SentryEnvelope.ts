import { Either } from "effect"
import * as zlib from "node:zlib"

/**
 * The Sentry envelope format (develop.sentry.dev, "Envelopes"): a JSON header line, then items,
 * each a JSON header line (`type`, optionally `length`) and its payload — `length` bytes, or up to
 * the next newline. Pure; decompression bounded by the size limits of contract §9.
 */

export interface EnvelopeItem {
  readonly type: string
  readonly payload: Uint8Array
}

export interface Envelope {
  readonly header: Record<string, unknown>
  readonly items: ReadonlyArray<EnvelopeItem>
}

/** Why a body was refused: malformed (400), or over a size limit (413). */
export type Refusal = { readonly _tag: "Malformed"; readonly message: string } | { readonly _tag: "TooLarge"; readonly message: string }

const malformed = (message: string): Refusal => ({ _tag: "Malformed", message })
const tooLarge = (message: string): Refusal => ({ _tag: "TooLarge", message })

const newline = 0x0a
const utf8 = new TextDecoder("utf-8", { fatal: true })

const jsonObjectAt = (bytes: Uint8Array): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes))
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

const lineEnd = (bytes: Uint8Array, from: number) => {
  const at = bytes.indexOf(newline, from)
  return at < 0 ? bytes.length : at
}

export const parseEnvelope = (bytes: Uint8Array): Either.Either<Envelope, Refusal> => {
  const headerEnd = lineEnd(bytes, 0)
  const header = jsonObjectAt(bytes.subarray(0, headerEnd))
  if (header === undefined) return Either.left(malformed("the envelope's header is not a JSON object"))
  const items: Array<EnvelopeItem> = []
  let at = headerEnd + 1
  while (at < bytes.length) {
    const end = lineEnd(bytes, at)
    if (end === at) {
      at++
      continue
    }
    const itemHeader = jsonObjectAt(bytes.subarray(at, end))
    if (itemHeader === undefined || typeof itemHeader.type !== "string") {
      return Either.left(malformed("an item header is not a JSON object with a type"))
    }
    const length = itemHeader.length
    let payload: Uint8Array
    if (length === undefined || length === null) {
      const payloadEnd = lineEnd(bytes, end + 1)
      payload = bytes.subarray(end + 1, payloadEnd)
      at = payloadEnd + 1
    } else {
      if (typeof length !== "number" || !Number.isInteger(length) || length < 0 || end + 1 + length > bytes.length) {
        return Either.left(malformed("an item's length does not fit the envelope"))
      }
      payload = bytes.subarray(end + 1, end + 1 + length)
      at = end + 1 + length + 1
    }
    items.push({ type: itemHeader.type, payload })
  }
  return Either.right({ header, items })
}

/** The body as sent, decompressed by its `Content-Encoding`, refused past `maxBytes`. */
export const decompress = (body: Uint8Array, encoding: string | undefined, maxBytes: number): Either.Either<Uint8Array, Refusal> => {
  const coding = (encoding ?? "identity").trim().toLowerCase()
  if (coding === "identity" || coding === "") {
    return body.byteLength > maxBytes ? Either.left(tooLarge(`the body exceeds ${maxBytes} bytes`)) : Either.right(body)
  }
  const options = { maxOutputLength: maxBytes }
  const inflate = (run: () => Buffer) =>
    Either.try({
      try: () => new Uint8Array(run()),
      catch: (e): Refusal =>
        (e as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE"
          ? tooLarge(`the body exceeds ${maxBytes} bytes decompressed`)
          : malformed(`the body is not valid ${coding}`)
    })
  switch (coding) {
    case "gzip":
    case "x-gzip":
      return inflate(() => zlib.gunzipSync(body, options))
    case "deflate":
      // HTTP's deflate is zlib-wrapped; some clients send it raw.
      return inflate(() => zlib.inflateSync(body, options)).pipe(
        Either.orElse((refusal) => (refusal._tag === "TooLarge" ? Either.left(refusal) : inflate(() => zlib.inflateRawSync(body, options))))
      )
    case "br":
      return inflate(() => zlib.brotliDecompressSync(body, options))
    default:
      return Either.left(malformed(`Content-Encoding ${coding} is not supported (gzip, deflate, br)`))
  }
}

/** A payload as a JSON object (an event), if it is one. */
export const eventOf = (payload: Uint8Array) => jsonObjectAt(payload)
