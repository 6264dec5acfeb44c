import { Duration, Effect, Option, Redacted } from "effect"
import { createHmac } from "node:crypto"
import nodemailer from "nodemailer"
import type { AppConfig } from "../Config.js"
import type { ChannelKind, NotificationEvent } from "../Domain/Notification.js"
import type { Outcome } from "../Jobs/Jobs.js"
import { checkTarget } from "./Targets.js"

/** The bug as a notification carries it (built by PostgreSQL when the notification is decided). */
export interface BugSummary {
  readonly id: string
  readonly village_id: string
  readonly repo_id: string
  readonly title: string
  readonly status: string
  readonly severity: string | null
  readonly category: string | null
  readonly source: string
  readonly version: number
  readonly occurrences: number
  readonly assigned_agent_id: string | null
  readonly sla_due_at: string | null
  readonly last_release: string | null
}

/** A delivery job's payload. */
export interface Notice {
  readonly event: NotificationEvent
  readonly occurred_at: string
  readonly bug: BugSummary
}

/** A channel as a delivery needs it: the secret opened. */
export interface Destination {
  readonly kind: ChannelKind
  readonly target: string
  readonly secret: string | null
}

const headlines: Record<NotificationEvent, string> = {
  bug_created: "New bug",
  regression: "Regression",
  sla_breach: "SLA breached",
  critical_bug: "Critical bug",
  bug_resolved: "Bug resolved"
}

/** How long one delivery may take before it counts as a failed attempt. */
const sendTimeout = Duration.seconds(10)

export const headline = (notice: Notice) => `${headlines[notice.event]}: ${notice.bug.title}`

const facts = (notice: Notice) =>
  [
    `status ${notice.bug.status}`,
    `severity ${notice.bug.severity ?? "unset"}`,
    notice.bug.occurrences > 0 ? `${notice.bug.occurrences} occurrences` : null,
    notice.bug.sla_due_at === null ? null : `SLA due ${notice.bug.sla_due_at}`
  ].filter((fact) => fact !== null).join(" · ")

/** The webhook body: the delivery's id, the event, when, and the bug. Signed as these exact bytes. */
export const webhookBody = (deliveryId: string, notice: Notice) =>
  JSON.stringify({ id: deliveryId, event: notice.event, occurred_at: notice.occurred_at, bug: notice.bug })

/** `sha256=<hex HMAC-SHA256 of the body under the channel's secret>`. */
export const signature = (secret: string, body: string) => `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`

/** A Slack incoming-webhook message: `text` (the notification's fallback) and `blocks`. */
export const slackBody = (notice: Notice) =>
  JSON.stringify({
    text: `[bugbots] ${headline(notice)}`,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `*${headlines[notice.event]}*\n${notice.bug.title.replace(/[<>&]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;" })[c]!)}` } },
      { type: "context", elements: [{ type: "mrkdwn", text: `${facts(notice)} · bug \`${notice.bug.id}\`` }] }
    ]
  })

const retryAfter = (response: Response) => {
  const value = response.headers.get("retry-after")
  if (value === null) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Duration.seconds(Math.max(0, seconds))
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Duration.millis(Math.max(0, at - Date.now()))
}

/** What a target's answer means: 2xx delivered; 408, 429 and 5xx again later (honouring `retry-after`); a redirect or another 4xx never. */
const outcomeOf = (response: Response): Outcome => {
  if (response.status >= 200 && response.status < 300) return { _tag: "Done", result: { status: response.status } }
  if (response.status >= 300 && response.status < 400) {
    return { _tag: "Failed", error: `the target answered ${response.status}: redirects are not followed` }
  }
  if (response.status === 408 || response.status === 429 || response.status >= 500) {
    return { _tag: "Retry", error: `the target answered ${response.status}`, after: retryAfter(response) }
  }
  return { _tag: "Failed", error: `the target answered ${response.status}` }
}

const post = (target: string, allowPrivate: boolean, body: string, headers: Record<string, string>) =>
  checkTarget(target, allowPrivate).pipe(
    Effect.flatMap((url) =>
      Effect.tryPromise({
        try: (signal) =>
          fetch(url, {
            method: "POST",
            body,
            headers: { "content-type": "application/json", "user-agent": "bugbots", ...headers },
            redirect: "manual",
            signal: AbortSignal.any([signal, AbortSignal.timeout(Duration.toMillis(sendTimeout))])
          }).then(async (response) => {
            await response.body?.cancel()
            return response
          }),
        catch: (error) => (error instanceof Error ? error.message : String(error))
      }).pipe(
        Effect.map(outcomeOf),
        Effect.catchAll((error): Effect.Effect<Outcome> => Effect.succeed({ _tag: "Retry", error: `could not reach the target: ${error}` }))
      )
    ),
    // Refused by the guard: as at creation, and for good (a DNS change back is a new channel).
    Effect.catchTag("UnsafeTarget", (e): Effect.Effect<Outcome> => Effect.succeed({ _tag: "Failed", error: e.message }))
  )

type MailConfig = Pick<AppConfig, "smtpUrl" | "smtpFrom">
/** What nodemailer rejects with: the server's reply code when it gave one. */
interface SmtpFailure {
  readonly message?: string
  readonly responseCode?: number
}

/**
 * Sends notices: webhooks signed with HMAC, Slack incoming webhooks, email over SMTP (one pooled
 * nodemailer transport per instance). Each send ends in an `Outcome` for the jobs engine.
 */
export const makeSender = (config: MailConfig & Pick<AppConfig, "allowPrivateTargets">) => {
  const mailer = Option.map(config.smtpUrl, (url) => nodemailer.createTransport(Redacted.value(url)))

  const email = (to: string, notice: Notice): Effect.Effect<Outcome> =>
    Option.match(mailer, {
      onNone: () => Effect.succeed<Outcome>({ _tag: "Failed", error: "BUGBOTS_SMTP_URL is not set" }),
      onSome: (transport) =>
        Effect.tryPromise({
          try: () =>
            transport.sendMail({
              from: config.smtpFrom,
              to,
              subject: `[bugbots] ${headline(notice)}`,
              text: [headline(notice), facts(notice), `Bug ${notice.bug.id} in village ${notice.bug.village_id}`].join("\n\n")
            }),
          catch: (error): SmtpFailure => error as SmtpFailure
        }).pipe(
          Effect.timeoutFail({ duration: sendTimeout, onTimeout: (): SmtpFailure => ({ message: "the SMTP server did not answer in time" }) }),
          Effect.as<Outcome>({ _tag: "Done" }),
          Effect.catchAll((error): Effect.Effect<Outcome> => {
            const message = `SMTP: ${error.message ?? "sending failed"}`
            // 5xx from the server is a permanent refusal (no such mailbox); 4xx and connection errors pass.
            return Effect.succeed(error.responseCode !== undefined && error.responseCode >= 500 ? { _tag: "Failed", error: message } : { _tag: "Retry", error: message })
          })
        )
    })

  const send = (deliveryId: string, to: Destination, notice: Notice): Effect.Effect<Outcome> => {
    switch (to.kind) {
      case "webhook": {
        const body = webhookBody(deliveryId, notice)
        return post(to.target, config.allowPrivateTargets, body, {
          "x-bugbots-event": notice.event,
          "x-bugbots-delivery": deliveryId,
          ...(to.secret === null ? {} : { "x-bugbots-signature": signature(to.secret, body) })
        })
      }
      case "slack":
        return post(to.target, config.allowPrivateTargets, slackBody(notice), {})
      case "email":
        return email(to.target, notice)
    }
  }

  return { send } as const
}
