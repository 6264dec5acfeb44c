import { createHmac, timingSafeEqual } from "node:crypto"
import type { AddressInfo } from "node:net"
import { SMTPServer } from "smtp-server"

/**
 * Stand-ins for where notifications go, on ephemeral ports: an HTTP receiver for webhooks (it
 * verifies `X-Bugbots-Signature` the way a subscriber would) and Slack incoming webhooks, and an
 * SMTP server (`smtp-server`) that records mail.
 */

export interface Received {
  readonly path: string
  readonly headers: Headers
  readonly body: string
  readonly json: any
  /** The signature is the HMAC-SHA256 of the raw body under the receiver's secret (compared in constant time). */
  readonly signed: boolean
}

export interface HttpReceiver {
  readonly url: string
  readonly received: Array<Received>
  /** Statuses to answer, in order (then `fallback`); a `redirect` answers 302 to `/elsewhere`. */
  readonly script: Array<number | "redirect">
  fallback: number
  readonly stop: () => void
}

export const signatureOf = (secret: string, body: string) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`

const verify = (secret: string | undefined, header: string | null, body: string) => {
  if (secret === undefined || header === null) return false
  const expected = Buffer.from(signatureOf(secret, body))
  const given = Buffer.from(header)
  return expected.length === given.length && timingSafeEqual(expected, given)
}

/** Answers POSTs with the script's next status (Slack's `ok`/`no_text` bodies on its paths). */
export const httpReceiver = (secret?: string): HttpReceiver => {
  const receiver: HttpReceiver = { url: "", received: [], script: [], fallback: 200, stop: () => server.stop(true) }
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: async (request) => {
      const url = new URL(request.url)
      const body = await request.text()
      let json: unknown = null
      try {
        json = JSON.parse(body)
      } catch {
        // kept as text
      }
      receiver.received.push({ path: url.pathname, headers: request.headers, body, json, signed: verify(secret, request.headers.get("x-bugbots-signature"), body) })
      const next = receiver.script.shift() ?? receiver.fallback
      if (next === "redirect") return new Response(null, { status: 302, headers: { location: `${receiver.url}/elsewhere` } })
      return new Response(next === 200 ? "ok" : "nope", { status: next, headers: next === 429 ? { "retry-after": "0" } : {} })
    }
  })
  ;(receiver as { url: string }).url = `http://127.0.0.1:${server.port}`
  return receiver
}

export interface Mail {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly raw: string
}

export interface SmtpReceiver {
  readonly url: string
  readonly mail: Array<Mail>
  /** Answer the next RCPT TO with this code (550: no such mailbox) instead of accepting. */
  rejectNext: Array<number>
  readonly stop: () => Promise<void>
}

/** A plain SMTP server (no TLS, no auth) that records every message it accepts. */
export const smtpReceiver = async (): Promise<SmtpReceiver> => {
  const receiver: SmtpReceiver = { url: "", mail: [], rejectNext: [], stop: async () => {} }
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onRcptTo: (address, _session, callback) => {
      const code = receiver.rejectNext.shift()
      if (code === undefined) return callback()
      const error = Object.assign(new Error(`mailbox ${address.address} refused`), { responseCode: code })
      callback(error)
    },
    onData: (stream, session, callback) => {
      const chunks: Array<Buffer> = []
      stream.on("data", (chunk: Buffer) => chunks.push(chunk))
      stream.on("end", () => {
        receiver.mail.push({
          from: session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString("utf8")
        })
        callback()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  const port = (server.server.address() as AddressInfo).port
  ;(receiver as { url: string }).url = `smtp://127.0.0.1:${port}`
  ;(receiver as { stop: () => Promise<void> }).stop = () => new Promise<void>((resolve) => server.close(() => resolve()))
  return receiver
}
