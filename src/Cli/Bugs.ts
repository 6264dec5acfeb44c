import { Args, Command, Options } from "@effect/cli"
import { Console, DateTime, Effect, Option, Schema } from "effect"
import { Bug, BugStatus, Severity } from "../Domain/Bug.js"
import { BugId, RepoId, VillageId } from "../Domain/Ids.js"
import { call, ServiceClient } from "./Client.js"
import { bold, dim, severity, status, table, when } from "./Table.js"

/** `bugbots bugs list` and `bugbots bugs show <id>` (contract §12), through the typed REST client. */

const json = Options.boolean("json").pipe(Options.withDescription("print JSON (the API's own shapes) for scripts instead of a table"))
const encodeBugs = Schema.encodeSync(Schema.Array(Bug))
const toDate = (value: DateTime.Utc | null) => (value === null ? null : DateTime.toDate(value))

const list = Command.make(
  "list",
  {
    village: Options.text("village").pipe(
      Options.withSchema(VillageId),
      Options.optional,
      Options.withDescription("one village's bugs (default: every village the token can see)")
    ),
    status: Options.choice("status", BugStatus.literals).pipe(Options.repeated, Options.withDescription("only this status (repeat for several)")),
    severity: Options.choice("severity", Severity.literals).pipe(Options.optional, Options.withDescription("only this severity")),
    repo: Options.text("repo").pipe(Options.withSchema(RepoId), Options.optional, Options.withDescription("only this repo's bugs")),
    limit: Options.integer("limit").pipe(Options.withDefault(20), Options.withDescription("at most this many bugs, newest first (1..200)")),
    json
  },
  (options) =>
    Effect.gen(function* () {
      const { api } = yield* ServiceClient
      const limit = Math.min(200, Math.max(1, options.limit))
      const villages = Option.isSome(options.village)
        ? [options.village.value]
        : (yield* call(api.villages.list({ urlParams: { limit: 200 } }))).items.map((v) => v.id)
      const pages = yield* Effect.forEach(
        villages,
        (id) =>
          call(
            api.bugs.list({
              path: { id },
              urlParams: {
                limit,
                sort: "-created_at",
                ...(options.status.length > 0 ? { status: options.status } : {}),
                ...(Option.isSome(options.severity) ? { severity: options.severity.value } : {}),
                ...(Option.isSome(options.repo) ? { repo_id: options.repo.value } : {})
              }
            })
          ),
        { concurrency: 4 }
      )
      const bugs = pages
        .flatMap((page) => page.items)
        .sort((a, b) => DateTime.toEpochMillis(b.created_at) - DateTime.toEpochMillis(a.created_at))
        .slice(0, limit)
      if (options.json) return yield* Console.log(JSON.stringify(encodeBugs(bugs), null, 2))
      if (bugs.length === 0) return yield* Console.log("no bugs")
      yield* Console.log(
        table<Bug>(
          [
            { header: "ID", cell: (b) => b.id },
            { header: "SEVERITY", cell: (b) => b.severity ?? "-", colour: (text, b) => (b.severity === null ? dim(text) : severity(b.severity)) },
            { header: "STATUS", cell: (b) => b.status, colour: (text, b) => (text === b.status ? status(b.status) : text) },
            { header: "TITLE", cell: (b) => b.title, shrink: true },
            { header: "SEEN", cell: (b) => (b.occurrences > 0 ? String(b.occurrences) : "-"), align: "right" },
            { header: "CREATED", cell: (b) => when(DateTime.toDate(b.created_at)) }
          ],
          bugs
        )
      )
    }).pipe(Effect.provide(ServiceClient.layer))
).pipe(Command.withDescription("list bugs, newest first: every village the token can see, or one (--village)"))

const show = Command.make(
  "show",
  {
    id: Args.text({ name: "id" }).pipe(Args.withSchema(BugId), Args.withDescription("the bug's id")),
    json
  },
  (options) =>
    Effect.gen(function* () {
      const { api } = yield* ServiceClient
      const bug = yield* call(api.bugs.get({ path: { id: options.id } }))
      if (options.json) return yield* Console.log(JSON.stringify(Schema.encodeSync(Bug)(bug), null, 2))
      const fields: Array<readonly [string, string]> = [
        ["id", bug.id],
        ["status", status(bug.status)],
        ["severity", severity(bug.severity)],
        ["village", bug.village_id],
        ["repo", bug.repo_id],
        ["source", `${bug.source}${bug.issue_number === null ? "" : ` (issue #${bug.issue_number})`}`],
        ["assigned to", bug.assigned_agent_id ?? "-"],
        ["created", when(DateTime.toDate(bug.created_at))],
        ["updated", when(DateTime.toDate(bug.updated_at))],
        ["sla due", when(toDate(bug.sla_due_at))],
        ["resolved", when(toDate(bug.resolved_at))]
      ]
      if (bug.occurrences > 0) {
        fields.push(["occurrences", `${bug.occurrences} (first ${when(toDate(bug.first_seen))}, last ${when(toDate(bug.last_seen))})`])
        fields.push(["release", bug.last_release ?? "-"], ["environment", bug.environment ?? "-"])
      }
      if (bug.duplicate_of_id !== null) fields.push(["duplicate of", bug.duplicate_of_id])
      const width = Math.max(...fields.map(([name]) => name.length))
      yield* Console.log(bold(bug.title))
      yield* Console.log(fields.map(([name, value]) => `${dim(name.padEnd(width))}  ${value}`).join("\n"))
      if (bug.description !== null && bug.description.length > 0) yield* Console.log(`\n${bug.description}`)
    }).pipe(Effect.provide(ServiceClient.layer))
).pipe(Command.withDescription("one bug in full"))

export const bugs = Command.make("bugs").pipe(
  Command.withSubcommands([list, show]),
  Command.withDescription("bugs as the service has them (BUGBOTS_URL, BUGBOTS_TOKEN)")
)
