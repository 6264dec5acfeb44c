import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto"

/**
 * A channel's signing secret at rest. HMAC signing needs the secret itself, so it cannot be kept
 * as a hash like a bearer token; it is sealed with AES-256-GCM under the SHA-256 of
 * `BUGBOTS_SECRETS_KEY` (iv ‖ ciphertext ‖ tag), so a database dump alone does not reveal it. It is
 * opened only to sign a delivery, never logged, never listed.
 */
const keyOf = (secretsKey: string) => createHash("sha256").update(secretsKey, "utf8").digest()

export const seal = (secretsKey: string, secret: string): Buffer => {
  const iv = randomBytes(12)
  const cipher = createCipheriv("aes-256-gcm", keyOf(secretsKey), iv)
  const body = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()])
  return Buffer.concat([iv, body, cipher.getAuthTag()])
}

/** The secret, or throws when the key is not the one it was sealed with (or the bytes were altered). */
export const open = (secretsKey: string, sealed: Uint8Array): string => {
  const bytes = Buffer.from(sealed)
  const decipher = createDecipheriv("aes-256-gcm", keyOf(secretsKey), bytes.subarray(0, 12))
  decipher.setAuthTag(bytes.subarray(bytes.length - 16))
  return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString("utf8")
}

/** A new signing secret, for a webhook channel created without one. */
export const generateSecret = () => `whsec_${randomBytes(24).toString("base64url")}`
