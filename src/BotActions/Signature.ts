import { createHmac, timingSafeEqual } from "node:crypto"

/**
 * The internal v2 protocol's signature (contract §10): `X-Bugbots-Signature: sha256=<hex
 * HMAC-SHA256 of "<timestamp>.<raw body>">` under `BUGBOTS_INTERNAL_SECRET`, with
 * `X-Bugbots-Timestamp` (unix seconds) no more than `maxSkewSeconds` from now.
 */
export const maxSkewSeconds = 300

export const signatureOf = (secret: string, timestamp: string, body: string) =>
  `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`

/** The headers of a signed request, for workers (examples/bot-worker.ts) and tests. */
export const signedHeaders = (secret: string, body: string, now = Date.now()) => {
  const timestamp = String(Math.floor(now / 1000))
  return { "x-bugbots-timestamp": timestamp, "x-bugbots-signature": signatureOf(secret, timestamp, body) }
}

/** Why a request is refused, or undefined when its signature holds. */
export const refusal = (
  secret: string,
  timestamp: string | undefined,
  signature: string | undefined,
  body: string,
  now = Date.now()
): string | undefined => {
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) return "X-Bugbots-Timestamp is missing or not unix seconds"
  if (Math.abs(Number(timestamp) - now / 1000) > maxSkewSeconds) return `X-Bugbots-Timestamp is more than ${maxSkewSeconds} s away`
  if (signature === undefined) return "X-Bugbots-Signature is missing"
  const expected = Buffer.from(signatureOf(secret, timestamp, body))
  const given = Buffer.from(signature)
  // Compared in constant time; a length mismatch reveals only the length of a public format.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "X-Bugbots-Signature does not match"
  return undefined
}
