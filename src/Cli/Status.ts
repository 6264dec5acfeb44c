import { Command, Options } from "@effect/cli"
import { Console, Effect, Option, Schema } from "effect"
import { AdminStatus, VillageStats } from "../Domain/Operations.js"
import { call, ServiceClient } from "./Client.js"
import { bold, dim, red, table } from "./Table.js"

/**
 * `bugbots status` (contract §12): for every village the token can see, its bugs by status and
 * severity and its SLA breaches; for a superuser, the queues too.
 */

interface VillageRow {
  readonly id: string
  readonly name: string
  readonly stats: VillageStats
}

const encodeStats = Schema.encodeSync(VillageStats)
const encodeStatus = Schema.encodeSync(AdminStatus)
const count = (n: number) => String(n)
const age = (seconds: number | null) =>
  seconds === null ? "-" : seconds < 120 ? `${Math.round(seconds)}s` : seconds < 7200 ? `${Math.round(seconds / 60)}m` : `${Math.round(seconds / 3600)}h`
const duration = (seconds: number | null) => (seconds === null ? "-" : seconds < 1 ? `${Math.round(seconds * 1000)}ms` : `${seconds.toFixed(1)}s`)

export const status = Command.make(
  "status",
  { json: Options.boolean("json").pipe(Options.withDescription("print JSON for scripts instead of tables")) },
  (options) =>
    Effect.gen(function* () {
      const { api } = yield* ServiceClient
      const villages = (yield* call(api.villages.list({ urlParams: { limit: 200 } }))).items
      const rows: ReadonlyArray<VillageRow> = yield* Effect.forEach(
        villages,
        (village) => Effect.map(call(api.stats.village({ path: { id: village.id } })), (stats) => ({ id: village.id, name: village.name, stats })),
        { concurrency: 4 }
      )
      // Queues are for superusers: anyone else sees the bugs alone.
      const admin = yield* call(api.status.adminStatus()).pipe(
        Effect.map(Option.some),
        Effect.catchIf((failure) => failure.status === 403, () => Effect.succeed(Option.none<AdminStatus>()))
      )

      if (options.json) {
        return yield* Console.log(
          JSON.stringify(
            {
              villages: rows.map((row) => ({ id: row.id, name: row.name, ...encodeStats(row.stats) })),
              status: Option.match(admin, { onNone: () => null, onSome: encodeStatus })
            },
            null,
            2
          )
        )
      }

      const lines: Array<string> = []
      if (rows.length === 0) lines.push("no villages")
      else {
        lines.push(
          bold("Bugs by status"),
          table<VillageRow>(
            [
              { header: "VILLAGE", cell: (r) => r.name, shrink: true },
              { header: "OPEN", cell: (r) => count(r.stats.by_status.open), align: "right" },
              { header: "TRIAGED", cell: (r) => count(r.stats.by_status.triaged), align: "right" },
              { header: "ASSIGNED", cell: (r) => count(r.stats.by_status.assigned), align: "right" },
              { header: "IN PROGRESS", cell: (r) => count(r.stats.by_status.in_progress), align: "right" },
              { header: "AWAITING", cell: (r) => count(r.stats.by_status.awaiting_verification), align: "right" },
              { header: "RESOLVED", cell: (r) => count(r.stats.by_status.resolved), align: "right" },
              { header: "CLOSED", cell: (r) => count(r.stats.by_status.closed), align: "right" }
            ],
            rows
          ),
          "",
          bold("Open bugs by severity, SLA breaches"),
          table<VillageRow>(
            [
              { header: "VILLAGE", cell: (r) => r.name, shrink: true },
              { header: "CRITICAL", cell: (r) => count(r.stats.by_severity.critical), align: "right" },
              { header: "HIGH", cell: (r) => count(r.stats.by_severity.high), align: "right" },
              { header: "MEDIUM", cell: (r) => count(r.stats.by_severity.medium), align: "right" },
              { header: "LOW", cell: (r) => count(r.stats.by_severity.low), align: "right" },
              { header: "NONE", cell: (r) => count(r.stats.by_severity.none), align: "right" },
              {
                header: "PAST SLA",
                cell: (r) => count(r.stats.open_past_sla),
                align: "right",
                colour: (text, r) => (r.stats.open_past_sla > 0 ? red(text) : text)
              },
              { header: "MTTR 30D", cell: (r) => age(r.stats.mttr_seconds_30d), align: "right" }
            ],
            rows
          )
        )
      }
      lines.push("")
      Option.match(admin, {
        onNone: () => lines.push(dim("queues: shown to superusers only")),
        onSome: (s) =>
          lines.push(
            bold("Queues"),
            table(
              [
                { header: "QUEUE", cell: (q: AdminStatus["queues"][number]) => q.queue },
                { header: "PENDING", cell: (q) => count(q.depth.pending), align: "right" },
                { header: "RUNNING", cell: (q) => count(q.depth.running), align: "right" },
                {
                  header: "FAILED",
                  cell: (q) => count(q.depth.failed),
                  align: "right",
                  colour: (text, q) => (q.depth.failed > 0 ? red(text) : text)
                },
                { header: "OLDEST DUE", cell: (q) => age(q.oldest_due_age_seconds), align: "right" },
                { header: "P95 5M", cell: (q) => duration(q.durations_5m.p95_seconds), align: "right" }
              ],
              s.queues
            ),
            "",
            `instances: ${s.instances.filter((i) => i.state === "live").length} live · websockets: ${s.ws_connections.live_instances}`
          )
      })
      yield* Console.log(lines.join("\n"))
    }).pipe(Effect.provide(ServiceClient.layer))
).pipe(Command.withDescription("bugs by status and severity, SLA breaches per village; queue depths (superusers)"))
