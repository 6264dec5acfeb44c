import { Args, Command, Options } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { Config, Console, Effect, Either, Option } from "effect"
import { createHash } from "node:crypto"
import { RepoId } from "../Domain/Ids.js"
import type { NativeReport } from "../Domain/Report.js"
import { parseLegacyFile } from "../Reports/Legacy.js"
import { call, ServiceClient, type ServiceFailure } from "./Client.js"

/**
 * `bugbots import-reports <file-or-dir> --repo <id> [--dry-run]` (contract §9): legacy flat-file JSON
 * reports into a repo, through the service's REST API (`POST /api/reports`, as `BUGBOTS_TOKEN`).
 *
 * - Idempotent: each report goes as `event_id: legacy-<id>`, which the service stores once.
 * - Checkpointed: each file sent in full is appended (with its content hash) to a checkpoint file; a
 *   run that was interrupted resumes after the files it finished, and resends at most the file it
 *   was in (which the service then counts as already imported).
 * - An invalid record (a file that is not JSON, a record that is not a report) is one line naming
 *   the file and record; the run continues. A failure of the service (after retries) stops the run.
 * - Progress: a bar on a terminal, a line per file otherwise. Then one summary line.
 * - Exit code 0, or 2 when some records were invalid, or 1 when the run stopped.
 */

interface Tally {
  imported: number
  skipped: number
  invalid: number
}

interface Done {
  readonly file: string
  readonly sha256: string
  readonly imported: number
  readonly skipped: number
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

/** The JSON files to import: the file itself, or every `*.json` under the directory, in name order. */
const filesOf = (source: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const info = yield* fs.stat(source)
    if (info.type !== "Directory") return { root: path.dirname(source), files: [path.basename(source)] }
    const entries = yield* fs.readDirectory(source, { recursive: true })
    return { root: source, files: entries.filter((name) => name.endsWith(".json")).sort() }
  })

/** The checkpoint's lines: files done, by their content hash. A line cut short by a kill is ignored. */
const readCheckpoint = (file: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const done = new Map<string, Done>()
    if (!(yield* fs.exists(file))) return done
    for (const line of (yield* fs.readFileString(file)).split("\n")) {
      try {
        const entry = JSON.parse(line) as Done
        if (typeof entry.file === "string" && typeof entry.sha256 === "string") done.set(entry.file, entry)
      } catch {
        // The torn last line of an interrupted run: that file is sent again.
      }
    }
    return done
  })

/** Progress as a bar redrawn on a terminal, or a line per file for logs and pipes. */
const progressOf = (mode: "bar" | "lines", total: number, tally: Tally, dryRun: boolean) => {
  const verb = dryRun ? "to import" : "imported"
  const width = 30
  const bar = (done: number) => {
    const filled = total === 0 ? width : Math.round((done / total) * width)
    return `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} files · ${verb} ${tally.imported} · skipped ${tally.skipped} · invalid ${tally.invalid}\x1b[K`
  }
  let done = 0
  return {
    /** A line of its own (an invalid record), above the bar. */
    say: (line: string) => Effect.sync(() => {
      if (mode === "bar") process.stderr.write("\r\x1b[K")
      process.stdout.write(`${line}\n`)
      if (mode === "bar") process.stderr.write(bar(done))
    }),
    file: (file: string, imported: number, skipped: number, invalid: number) => Effect.sync(() => {
      done += 1
      if (mode === "bar") process.stderr.write(bar(done))
      else process.stdout.write(`${file}: ${verb} ${imported}, skipped ${skipped}, invalid ${invalid} (${done}/${total})\n`)
    }),
    end: Effect.sync(() => {
      if (mode === "bar") process.stderr.write("\n")
    })
  }
}

type Send = (report: NativeReport) => Effect.Effect<{ readonly duplicate: boolean }, ServiceFailure>

const run = (
  options: {
    readonly source: string
    readonly repo: RepoId
    readonly dryRun: boolean
    readonly checkpoint: Option.Option<string>
    readonly progress: Option.Option<"bar" | "lines">
  },
  send: Send
) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const source = yield* fs.realPath(options.source)
    const { root, files } = yield* filesOf(source)
    const dataDir = yield* Config.string("BUGBOTS_DATA_DIR").pipe(Config.withDefault(".data"))
    const checkpoint = Option.getOrElse(options.checkpoint, () =>
      path.join(dataDir, "imports", `${sha256(`${source}\u0000${options.repo}`).slice(0, 16)}.jsonl`)
    )
    const done = yield* readCheckpoint(checkpoint)
    if (!options.dryRun) yield* fs.makeDirectory(path.dirname(checkpoint), { recursive: true })
    yield* Console.log(`${options.dryRun ? "dry run: " : ""}${files.length} files from ${source} into repo ${options.repo}; checkpoint ${checkpoint}`)

    const tally: Tally = { imported: 0, skipped: 0, invalid: 0 }
    const mode = Option.getOrElse(options.progress, () => (process.stderr.isTTY ? "bar" as const : "lines" as const))
    const progress = progressOf(mode, files.length, tally, options.dryRun)

    for (const file of files) {
      const text = yield* fs.readFileString(path.join(root, file))
      const hash = sha256(text)
      const records = parseLegacyFile(text, options.repo)
      const finished = done.get(file)?.sha256 === hash
      const counts = { imported: 0, skipped: 0, invalid: 0 }
      for (const [index, record] of records.entries()) {
        const where = records.length > 1 ? `${file}[${index}]` : file
        if (Either.isLeft(record)) {
          counts.invalid += 1
          tally.invalid += 1
          yield* progress.say(`invalid ${where}: ${record.left}`)
          continue
        }
        if (finished) {
          counts.skipped += 1
          tally.skipped += 1
          continue
        }
        const sent = yield* send(record.right.report).pipe(
          // The service refusing one report (400) makes it invalid; anything else stops the run.
          Effect.map(Either.right),
          Effect.catchIf((failure: ServiceFailure) => failure.status === 400 || failure.status === 413, (failure) => Effect.succeed(Either.left(failure.message)))
        )
        if (Either.isLeft(sent)) {
          counts.invalid += 1
          tally.invalid += 1
          yield* progress.say(`invalid ${where}: ${sent.left}`)
        } else if (sent.right.duplicate) {
          counts.skipped += 1
          tally.skipped += 1
        } else {
          counts.imported += 1
          tally.imported += 1
        }
      }
      if (!finished && !options.dryRun) {
        const line: Done = { file, sha256: hash, imported: counts.imported, skipped: counts.skipped }
        yield* fs.writeFileString(checkpoint, `${JSON.stringify(line)}\n`, { flag: "a" })
      }
      yield* progress.file(file, counts.imported, counts.skipped, counts.invalid)
    }
    yield* progress.end
    yield* Console.log(
      `${options.dryRun ? "dry run: would import" : "imported"} ${tally.imported}, skipped ${tally.skipped} (already imported), invalid ${tally.invalid}`
    )
    if (tally.invalid > 0) process.exitCode = 2
  })

export const importReports = Command.make(
  "import-reports",
  {
    source: Args.path({ name: "file-or-dir", exists: "yes" }).pipe(Args.withDescription("a legacy report file (one object or an array), or a directory of *.json files")),
    repo: Options.text("repo").pipe(Options.withSchema(RepoId), Options.withDescription("the repo the reports belong to")),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("validate and count; send nothing")),
    checkpoint: Options.file("checkpoint").pipe(Options.optional, Options.withDescription("where progress is kept (default: under $BUGBOTS_DATA_DIR/imports)")),
    progress: Options.choice("progress", ["bar", "lines"]).pipe(Options.optional, Options.withDescription("a bar (default on a terminal) or a line per file"))
  },
  (options) =>
    // A dry run sends nothing (and needs no token); a real run sends each report once, in file order.
    options.dryRun
      ? run(options, () => Effect.succeed({ duplicate: false }))
      : Effect.flatMap(ServiceClient, ({ api }) => run(options, (report) => call(api.reportIngest.report({ payload: report })))).pipe(
          Effect.provide(ServiceClient.layer)
        )
).pipe(Command.withDescription("import legacy flat-file JSON bug reports (idempotent, resumable)"))
