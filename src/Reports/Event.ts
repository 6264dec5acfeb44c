import { Option, Schema } from "effect"
import type { Severity } from "../Domain/Bug.js"
import { NativeReport } from "../Domain/Report.js"

/**
 * An error report in one shape, whichever way it came (a Sentry event, or bugbots' native report):
 * what grouping, the occurrence and a new bug need of it. Pure.
 */
export interface Frame {
  readonly filename: string | null
  readonly module: string | null
  readonly function: string | null
  readonly in_app: boolean | null
}

export interface ReportEvent {
  readonly event_id: string | null
  readonly title: string | null
  readonly message: string
  readonly exception: Option.Option<{ readonly type: string; readonly value: string; readonly frames: ReadonlyArray<Frame> }>
  readonly fingerprint: ReadonlyArray<string> | null
  readonly component: string | null
  readonly route: string | null
  readonly release: string | null
  readonly environment: string | null
  readonly trace_id: string | null
  readonly request_id: string | null
  readonly tags: Record<string, string>
  readonly severity: Severity | null
  readonly category: string | null
  readonly occurred_at: Date | null
}

const text = (u: unknown): string | null => (typeof u === "string" && u.length > 0 ? u : null)

/** Sentry's `level` as a severity. */
const severityOfLevel = (level: unknown): Severity | null => {
  switch (level) {
    case "fatal":
      return "critical"
    case "error":
      return "high"
    case "warning":
      return "medium"
    case "info":
    case "debug":
    case "log":
      return "low"
    default:
      return null
  }
}

/** Sentry sends tags as an object or as `[key, value]` pairs. */
const tagsOf = (u: unknown): Record<string, string> => {
  const entries = Array.isArray(u)
    ? u.filter((pair): pair is [unknown, unknown] => Array.isArray(pair) && pair.length === 2)
    : typeof u === "object" && u !== null
    ? Object.entries(u)
    : []
  return Object.fromEntries(entries.flatMap(([k, v]) => (typeof k === "string" && v !== null && v !== undefined ? [[k, String(v)]] : [])))
}

const framesOf = (stacktrace: unknown): ReadonlyArray<Frame> => {
  const frames = (stacktrace as { frames?: unknown } | undefined)?.frames
  if (!Array.isArray(frames)) return []
  return frames.map((f: Record<string, unknown>) => ({
    filename: text(f?.filename) ?? text(f?.abs_path),
    module: text(f?.module),
    function: text(f?.function),
    in_app: typeof f?.in_app === "boolean" ? f.in_app : null
  }))
}

/** PostgreSQL's text cannot hold NUL: a Sentry event's strings are stored with U+FFFD instead. */
const clean = (s: string) => (s.includes("\u0000") ? s.replaceAll("\u0000", "\ufffd") : s)

/** A Sentry event (the JSON of an `event` item, or a `/store/` body). */
export const fromSentry = (event: Record<string, unknown>, envelopeEventId: string | null): ReportEvent => sanitized(sentry(event, envelopeEventId))

const sanitized = (report: ReportEvent): ReportEvent => ({
  ...report,
  title: report.title === null ? null : clean(report.title),
  message: clean(report.message),
  exception: Option.map(report.exception, (e) => ({
    type: clean(e.type),
    value: clean(e.value),
    frames: e.frames.map((f) => ({
      filename: f.filename === null ? null : clean(f.filename),
      module: f.module === null ? null : clean(f.module),
      function: f.function === null ? null : clean(f.function),
      in_app: f.in_app
    }))
  })),
  fingerprint: report.fingerprint?.map(clean) ?? null,
  component: report.component === null ? null : clean(report.component),
  route: report.route === null ? null : clean(report.route),
  release: report.release === null ? null : clean(report.release),
  environment: report.environment === null ? null : clean(report.environment),
  trace_id: report.trace_id === null ? null : clean(report.trace_id),
  request_id: report.request_id === null ? null : clean(report.request_id),
  category: report.category === null ? null : clean(report.category),
  tags: Object.fromEntries(Object.entries(report.tags).map(([k, v]) => [clean(k), clean(v)]))
})

const sentry = (event: Record<string, unknown>, envelopeEventId: string | null): ReportEvent => {
  const values = (event.exception as { values?: unknown } | undefined)?.values
  const list = Array.isArray(values) ? values : []
  // The main exception is the last one: Sentry lists chained causes first.
  const main = list[list.length - 1] as Record<string, unknown> | undefined
  const logentry = event.logentry as { formatted?: unknown; message?: unknown } | undefined
  const messageField = event.message as unknown
  const message =
    text(typeof messageField === "object" && messageField !== null ? (messageField as { formatted?: unknown }).formatted : messageField) ??
    text(logentry?.formatted) ??
    text(logentry?.message) ??
    (main === undefined ? null : [text(main.type), text(main.value)].filter((s) => s !== null).join(": ")) ??
    "(no message)"
  const tags = tagsOf(event.tags)
  const contexts = (event.contexts ?? {}) as Record<string, Record<string, unknown> | undefined>
  const request = event.request as { url?: unknown } | undefined
  const timestamp = event.timestamp
  const occurred =
    typeof timestamp === "number" ? new Date(timestamp * 1000) : typeof timestamp === "string" ? new Date(timestamp) : null
  return {
    event_id: text(event.event_id) ?? envelopeEventId,
    title: null,
    message: message.length > 0 ? message : "(no message)",
    exception:
      main === undefined
        ? Option.none()
        : Option.some({ type: text(main.type) ?? "Error", value: typeof main.value === "string" ? main.value : "", frames: framesOf(main.stacktrace) }),
    fingerprint: Array.isArray(event.fingerprint) ? event.fingerprint.filter((p): p is string => typeof p === "string") : null,
    component: tags.component ?? text(event.logger),
    route: tags.route ?? text(event.transaction) ?? (typeof request?.url === "string" ? pathOf(request.url) : null),
    release: text(event.release),
    environment: text(event.environment),
    trace_id: text(contexts.trace?.trace_id),
    request_id: tags.request_id ?? tags["request.id"] ?? null,
    tags,
    severity: severityOfLevel(event.level),
    category: tags.category ?? null,
    occurred_at: occurred !== null && !Number.isNaN(occurred.getTime()) ? occurred : null
  }
}

const pathOf = (url: string) => {
  try {
    return new URL(url, "http://x").pathname
  } catch {
    return null
  }
}

/** bugbots' native report (`POST /api/reports`). */
export const fromNative = (report: NativeReport): ReportEvent => ({
  event_id: report.event_id ?? null,
  title: report.title ?? null,
  message: report.message,
  exception: Option.fromNullable(report.exception).pipe(
    Option.map((e) => ({
      type: e.type,
      value: e.value,
      frames: (e.frames ?? []).map((f) => ({
        filename: f.filename ?? null,
        module: f.module ?? null,
        function: f.function ?? null,
        in_app: f.in_app ?? null
      }))
    }))
  ),
  fingerprint: report.fingerprint ?? null,
  component: report.component ?? null,
  route: report.route ?? null,
  release: report.release ?? null,
  environment: report.environment ?? null,
  trace_id: report.trace_id ?? null,
  request_id: report.request_id ?? null,
  tags: { ...report.tags, ...(report.reporter === undefined ? {} : { reporter: report.reporter }) },
  severity: report.severity ?? null,
  category: report.category ?? null,
  occurred_at: report.occurred_at === undefined ? null : new Date(report.occurred_at.epochMillis)
})

/** The title a new bug of this report gets. */
export const titleOf = (event: ReportEvent) => {
  const title =
    event.title ??
    Option.match(event.exception, {
      onNone: () => event.message,
      onSome: (e) => (e.value.length > 0 ? `${e.type}: ${e.value}` : e.type)
    })
  const line = title.split("\n")[0]
  return line.length > 500 ? `${line.slice(0, 497)}...` : line
}

/** A release's commit, when it names one (`app@1.2.3+abc1234`, or the `release_sha` tag). */
export const releaseShaOf = (event: ReportEvent) =>
  event.tags.release_sha ?? (event.release === null ? null : (/[+@]([0-9a-f]{7,40})$/.exec(event.release)?.[1] ?? null))

const decodeNative = Schema.decodeUnknownOption(NativeReport)

/** A stored occurrence's event read back: a native report as it was sent, or a Sentry event. */
export const fromStored = (event: Record<string, unknown>): ReportEvent =>
  Option.match(decodeNative(event, { onExcessProperty: "ignore" }), { onNone: () => fromSentry(event, null), onSome: fromNative })
