import { DateTime, Either, Option, ParseResult, Schema } from "effect"
import type { Severity } from "../Domain/Bug.js"
import { Text } from "../Domain/Fields.js"
import type { RepoId } from "../Domain/Ids.js"
import type { NativeReport, ReportStatus } from "../Domain/Report.js"

/**
 * Legacy flat-file bug reports (contract §9, `bugbots import-reports`): their shape, and each as the
 * native report it becomes. Pure: reading files, sending and checkpointing are the CLI's.
 */

const severities: Record<string, Severity> = {
  critical: "critical", blocker: "critical", urgent: "critical", p0: "critical",
  high: "high", major: "high", p1: "high",
  medium: "medium", normal: "medium", moderate: "medium", p2: "medium",
  low: "low", minor: "low", trivial: "low", p3: "low", p4: "low"
}

const statuses: Record<string, ReportStatus> = {
  open: "open", new: "open", triaged: "open", assigned: "open", in_progress: "open", reopened: "open", awaiting_verification: "open",
  resolved: "resolved", fixed: "resolved", done: "resolved",
  closed: "closed", wontfix: "closed", "won't fix": "closed", invalid: "closed", duplicate: "closed", rejected: "closed"
}

const keyOf = (value: string) => value.trim().toLowerCase().replaceAll("-", "_")

/** A legacy vocabulary's word, any case: refused, naming the words it knows, when it is not one. */
const Word = <A>(table: Record<string, A>) =>
  Text(50).pipe(Schema.filter((value) => keyOf(value) in table || `unknown value ${JSON.stringify(value)} (one of ${Object.keys(table).join(", ")})`))

const Optional = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { nullable: true })

/** One legacy report as its file has it. Fields the legacy format does not name are ignored. */
export const LegacyReport = Schema.Struct({
  id: Schema.Union(Text(57).pipe(Schema.pattern(/^\S+$/, { message: () => "must not contain white space" })), Schema.Int.pipe(Schema.nonNegative())),
  title: Text(500),
  description: Optional(Text(65536, { min: 0 })),
  severity: Optional(Word(severities)),
  category: Optional(Text(100)),
  status: Optional(Word(statuses)),
  reporter: Optional(Text(200)),
  created_at: Optional(Text(64).pipe(Schema.filter((value) => Option.isSome(DateTime.make(value)) || `not a timestamp: ${JSON.stringify(value)}`))),
  stack: Optional(Text(65536, { min: 0 })),
  trace_id: Optional(Text(128)),
  request_id: Optional(Text(128)),
  release: Optional(Text(200))
})
export type LegacyReport = typeof LegacyReport.Type

export interface Frame {
  readonly filename?: string
  readonly module?: string
  readonly function?: string
  readonly lineno?: number
  readonly in_app: boolean
}

const notInApp = /node_modules|^node:|^internal\/|site-packages|dist-packages|^<anonymous>$|^native$/
const jvmLibrary = /^(?:[\w.]+\/)?(java|javax|jdk|sun|kotlin|scala|android)\./

const v8Frame = /^\s*at (?:async )?(?:(.+?) \()?(.+?):(\d+)(?::\d+)?\)?\s*$/
const jvmFrame = /^\s*at ([\w$.<>/]+)\.([\w$<>-]+)\(([^:)]*)(?::(\d+))?\)\s*$/
const pythonFrame = /^\s*File "(.+?)", line (\d+), in (.+?)\s*$/
const exceptionLine = /^([A-Za-z_$][\w$.]*)(?::\s?(.*))?$/

/**
 * A stack trace as text (V8/JavaScript, JVM or Python), as the main exception: its type and value
 * from the exception line (JavaScript and the JVM name it first, Python last), its frames oldest
 * first (Sentry's order). A stack in none of these shapes gives no exception, and the report
 * groups by its message.
 */
export const parseStack = (stack: string): { readonly type: string; readonly value: string; readonly frames: ReadonlyArray<Frame> } | undefined => {
  const frames: Array<Frame> = []
  const heads: Array<string> = []
  let python = false
  for (const line of stack.split(/\r?\n/)) {
    if (line.trim().length === 0) continue
    const py = pythonFrame.exec(line)
    if (py !== null) {
      python = true
      frames.push({ filename: py[1], lineno: Number(py[2]), function: py[3], in_app: !notInApp.test(py[1]!) })
      continue
    }
    const jvm = jvmFrame.exec(line)
    if (jvm !== null) {
      frames.push({ module: jvm[1], function: jvm[2], filename: jvm[3] || undefined, lineno: jvm[4] === undefined ? undefined : Number(jvm[4]), in_app: !jvmLibrary.test(jvm[1]!) })
      continue
    }
    const v8 = v8Frame.exec(line)
    if (v8 !== null) {
      frames.push({ function: v8[1], filename: v8[2], lineno: Number(v8[3]), in_app: !notInApp.test(v8[2]!) })
      continue
    }
    if (!/^\s/.test(line) && !line.startsWith("Traceback")) heads.push(line.trim())
  }
  const head = python ? heads.at(-1) : heads[0]
  const exception = head === undefined ? null : exceptionLine.exec(head)
  if (exception === null) return undefined
  return {
    type: exception[1]!.slice(0, 500),
    value: (exception[2] ?? "").slice(0, 65536),
    frames: (python ? frames : frames.reverse()).slice(-250)
  }
}

/** The native report a legacy one becomes; its `event_id` is `legacy-<id>`, so a second import of it counts once. */
export const toNative = (legacy: LegacyReport, repoId: RepoId): NativeReport => {
  const severity = legacy.severity == null ? undefined : severities[keyOf(legacy.severity)]
  const status = legacy.status == null ? undefined : statuses[keyOf(legacy.status)]
  const occurredAt = legacy.created_at == null ? undefined : DateTime.unsafeMake(legacy.created_at)
  const exception = legacy.stack == null ? undefined : parseStack(legacy.stack)
  const message = legacy.description != null && legacy.description.trim().length > 0 ? legacy.description : legacy.title
  return {
    repo_id: repoId,
    event_id: `legacy-${legacy.id}`,
    title: legacy.title,
    message,
    ...(severity === undefined ? {} : { severity }),
    ...(legacy.category == null ? {} : { category: legacy.category }),
    ...(exception === undefined ? {} : { exception: { type: exception.type, value: exception.value, frames: exception.frames } }),
    ...(legacy.release == null ? {} : { release: legacy.release }),
    ...(legacy.trace_id == null ? {} : { trace_id: legacy.trace_id }),
    ...(legacy.request_id == null ? {} : { request_id: legacy.request_id }),
    ...(legacy.reporter == null ? {} : { reporter: legacy.reporter }),
    ...(occurredAt === undefined ? {} : { occurred_at: DateTime.toUtc(occurredAt) }),
    ...(status === undefined ? {} : { status }),
    tags: { legacy_id: String(legacy.id) }
  } satisfies NativeReport
}

const decodeLegacy = Schema.decodeUnknownEither(LegacyReport, { errors: "all", onExcessProperty: "ignore" })

/** Why a value is not a legacy report, one line naming the fields. */
const describe = (error: ParseResult.ParseError) =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    // An optional field's other members (null, undefined) say nothing the field's own issue does not.
    .filter((issue) => !/^Expected (null|undefined), actual/.test(issue.message))
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "report"}: ${issue.message}`)
    .join("; ")

/** One record of a legacy file: the native report to send, or why it cannot be. */
export type Parsed = Either.Either<{ readonly legacyId: string; readonly report: NativeReport }, string>

/**
 * A legacy file's text as its records: one object, or an array of them. A file that is not JSON, or
 * neither shape, is one invalid record.
 */
export const parseLegacyFile = (text: string, repoId: RepoId): ReadonlyArray<Parsed> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return [Either.left(`not JSON: ${(e as Error).message}`)]
  }
  const records = Array.isArray(json) ? json : [json]
  if (records.length === 0) return []
  return records.map((record) =>
    Either.map(Either.mapLeft(decodeLegacy(record), describe), (legacy) => ({ legacyId: String(legacy.id), report: toNative(legacy, repoId) }))
  )
}
