import { PgClient } from "@effect/sql-pg"
import { DateTime, Effect, Option, Redacted } from "effect"
import { authorize, requireSuperuser } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { Bugs } from "../Bugs/Bugs.js"
import type { Bug } from "../Domain/Bug.js"
import { AppConfig } from "../Config.js"
import { NotFound, ServiceUnavailable, ValidationFailed } from "../Domain/Errors.js"
import type { VillageId } from "../Domain/Ids.js"
import {
  type CreateChannel,
  CreatedChannel,
  DeliveryQueued,
  NotificationChannel,
  type NotificationChannelId,
  NotificationDelivery,
  type NotificationDeliveryId,
  type NotificationDeliveryStatus
} from "../Domain/Notification.js"
import { insertJobsFrom, Jobs, type JobStatus } from "../Jobs/Jobs.js"
import { decodeJsonRows, iso, jsonObject } from "../Sql/Json.js"
import { pageByCreation } from "../Sql/Keyset.js"
import { withDb } from "../Sql/Retry.js"
import { Villages } from "../Villages/Villages.js"
import { generateSecret, open, seal } from "./Secrets.js"
import type { BugSummary, Destination } from "./Send.js"
import { deliveriesFor, deliveryKind } from "./FollowUp.js"
import { checkTarget } from "./Targets.js"

const channelJson = (alias: string) =>
  jsonObject(alias, [
    "id", "village_id", "kind", "target", ["events", `to_jsonb(${alias}.events)`], ["has_secret", `${alias}.secret_sealed is not null`],
    ["created_at", iso(`${alias}.created_at`)]
  ])
const decodeChannels = decodeJsonRows(NotificationChannel)

const wireStatus = `case j.status when 'running' then 'processing' when 'done' then 'delivered' else j.status end`
const jobStatuses: Record<NotificationDeliveryStatus, JobStatus> = {
  pending: "pending",
  processing: "running",
  delivered: "done",
  failed: "failed"
}
const renderedDelivery = `json_build_object(
  'id', j.id, 'channel_id', j.meta ->> 'channel_id', 'village_id', j.meta ->> 'village_id', 'kind', j.meta ->> 'kind',
  'event', j.meta ->> 'event', 'bug_id', j.meta ->> 'bug_id', 'status', ${wireStatus}, 'attempts', j.attempts,
  'next_attempt_at', ${iso("j.run_at")}, 'last_error', j.last_error, 'created_at', ${iso("j.created_at")},
  'finished_at', ${iso("j.finished_at")})`
const decodeDeliveries = decodeJsonRows(NotificationDelivery)

const emailAddress = /^[^\s@<>(),;:"]{1,64}@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/

/** The bug as a notification carries it, from a decoded bug (`bugSummary` of `FollowUp.ts` builds the same in SQL). */
export const summaryOf = (bug: Bug): BugSummary => ({
  id: bug.id,
  village_id: bug.village_id,
  repo_id: bug.repo_id,
  title: bug.title,
  status: bug.status,
  severity: bug.severity,
  category: bug.category,
  source: bug.source,
  version: bug.version,
  occurrences: bug.occurrences,
  assigned_agent_id: bug.assigned_agent_id,
  last_release: bug.last_release,
  sla_due_at: bug.sla_due_at === null ? null : DateTime.formatIso(bug.sla_due_at)
})

/**
 * Notification channels of a village and their deliveries (contract §13). The one owner of
 * `notification_channels` and `sla_breaches`. Deliveries are jobs of kind `notification.delivery`,
 * enqueued in the statement of the change that calls for them (`deliveriesFor`); `Worker.ts` sends
 * them.
 */
export class Notifications extends Effect.Service<Notifications>()("bugbots/Notifications", {
  effect: Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    const config = yield* AppConfig
    const jobs = yield* Jobs
    const villages = yield* Villages
    const bugs = yield* Bugs
    const channelSelect = sql.literal(`${channelJson("c")}::text as json`)

    const manage = (principal: Principal, villageId: VillageId) =>
      authorize(principal, "manage_village", { villageId, resource: "village", resourceId: villageId }).pipe(
        Effect.zipRight(villages.find(villageId))
      )

    /** `POST /villages/{id}/notification-channels` (admins). Webhook channels get a signing secret, shown once. */
    const create = Effect.fn("Notifications.create")(function* (principal: Principal, villageId: VillageId, input: CreateChannel) {
      yield* manage(principal, villageId)
      if (input.kind !== "webhook" && input.secret !== undefined) {
        return yield* new ValidationFailed({ message: "secret: only webhook channels sign their deliveries" })
      }
      if (input.kind === "email") {
        if (!emailAddress.test(input.target)) return yield* new ValidationFailed({ message: "target: not an email address" })
        if (Option.isNone(config.smtpUrl)) {
          return yield* new ServiceUnavailable({ message: "email channels need BUGBOTS_SMTP_URL, which is not set" })
        }
      } else {
        yield* checkTarget(input.target, config.allowPrivateTargets)
      }
      const secret = input.kind === "webhook" ? (input.secret ?? generateSecret()) : null
      if (secret !== null && Option.isNone(config.secretsKey)) {
        return yield* new ServiceUnavailable({ message: "webhook channels need BUGBOTS_SECRETS_KEY (their signing secrets are kept sealed under it), which is not set" })
      }
      const sealed = secret === null ? null : seal(Redacted.value(Option.getOrThrow(config.secretsKey)), secret)
      const events = [...new Set(input.events)]
      const rows = yield* sql<{ json: string }>`
        with c as (
          insert into notification_channels (village_id, kind, target, events, secret_sealed, created_by)
          values (${villageId}, ${input.kind}, ${input.target},
                  array(select jsonb_array_elements_text(${JSON.stringify(events)}::text::jsonb)), ${sealed}, ${principal.id})
          returning *)
        select ${channelSelect} from c`.pipe(withDb)
      const [channel] = yield* decodeChannels(rows)
      return new CreatedChannel({ ...channel, ...(secret === null || input.secret !== undefined ? {} : { secret }) })
    })

    const list = Effect.fn("Notifications.list")(function* (principal: Principal, villageId: VillageId, limit: number, cursor: string | undefined) {
      yield* manage(principal, villageId)
      return yield* pageByCreation(NotificationChannel, "notification_channels", channelJson("t"), sql`t.village_id = ${villageId}`, limit, cursor)
    })

    /** Deleting a channel stops what is still queued for it (those deliveries end as delivered to nobody). */
    const remove = Effect.fn("Notifications.remove")(function* (principal: Principal, villageId: VillageId, id: NotificationChannelId) {
      yield* manage(principal, villageId)
      const deleted = yield* sql`delete from notification_channels where id = ${id} and village_id = ${villageId} returning id`.pipe(withDb)
      if (deleted.length === 0) return yield* Effect.fail(NotFound.of("notification channel", id))
    })

    /** Where a delivery goes, its secret opened; None when the channel was deleted. */
    const destination = (id: NotificationChannelId) =>
      sql<{ kind: Destination["kind"]; target: string; secret_sealed: Uint8Array | null }>`
        select kind, target, secret_sealed from notification_channels where id = ${id}`.pipe(
        withDb,
        Effect.map((rows) =>
          Option.map(Option.fromNullable(rows[0]), (row): Destination => ({
            kind: row.kind,
            target: row.target,
            secret:
              row.secret_sealed === null || Option.isNone(config.secretsKey) ? null : open(Redacted.value(config.secretsKey.value), row.secret_sealed)
          }))
        )
      )

    /**
     * Notifies each breach of an SLA once, whichever instance sees it first: the breach (bug and the
     * deadline it missed) is inserted, and only the statement whose insert took it enqueues its
     * deliveries, in the same statement. How many breaches this call claimed.
     */
    const sweepSla = Effect.gen(function* () {
      const overdue = yield* bugs.overdue(100, "sla_breaches")
      if (overdue.length === 0) return 0
      const seen = JSON.stringify(overdue.map((o) => ({ bug_id: o.bug.id, sla_due_at: o.due, village_id: o.bug.village_id, summary: summaryOf(o.bug) })))
      const rows = yield* sql<{ claimed: number }>`
        with o as (
          select * from jsonb_to_recordset(${seen}::text::jsonb) as r(bug_id uuid, sla_due_at timestamptz, village_id uuid, summary jsonb)),
        claimed as (
          insert into sla_breaches (bug_id, sla_due_at) select bug_id, sla_due_at from o
          on conflict do nothing returning bug_id, sla_due_at),
        queued as (${insertJobsFrom(sql, 
          deliveriesFor(
            sql,
            config.notificationMaxAttempts,
            "sla_breach",
            sql`select o.bug_id as id, o.village_id, extract(epoch from o.sla_due_at)::bigint::text as tag, o.summary
                from o join claimed using (bug_id, sla_due_at)`,
            null
          )
        )})
        select (select count(*) from claimed)::int as claimed, (select count(*) from queued)::int as queued`.pipe(withDb)
      return rows[0].claimed
    })

    const deliveries = Effect.fn("Notifications.deliveries")(function* (
      principal: Principal,
      statuses: ReadonlyArray<NotificationDeliveryStatus> | undefined,
      limit: number,
      cursor: string | undefined
    ) {
      yield* requireSuperuser(principal, "see and retry notification deliveries")
      const page = yield* jobs.list(deliveryKind, statuses?.map((s) => jobStatuses[s]), renderedDelivery, limit, cursor).pipe(withDb)
      return { items: yield* decodeDeliveries(page.items.map((json) => ({ json }))), next_cursor: page.next_cursor }
    })

    /** Queues a settled delivery again with fresh attempts (superusers). */
    const retry = Effect.fn("Notifications.retry")(function* (principal: Principal, id: NotificationDeliveryId) {
      yield* requireSuperuser(principal, "see and retry notification deliveries")
      const retried = yield* jobs.retry(deliveryKind, { id }, renderedDelivery).pipe(withDb)
      switch (retried._tag) {
        case "Requeued":
          return (yield* decodeDeliveries([retried]))[0]
        case "Unknown":
          return yield* Effect.fail(NotFound.of("notification delivery", id))
        case "InFlight":
          return yield* new DeliveryQueued({ message: `delivery ${id} is ${retried.status === "running" ? "being sent" : "queued"} already` })
      }
    })

    return { create, list, remove, destination, sweepSla, deliveries, retry } as const
  }),
  dependencies: [Jobs.Default, Villages.Default, Bugs.Default]
}) {}
