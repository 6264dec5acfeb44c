import { DateTime, Option } from "effect"
import type { Bug, BugEvent } from "../Domain/Bug.js"
import type { Frame, ReportEvent } from "../Reports/Event.js"
import type { Evidence } from "./Heuristic.js"

/** A stored error report of the bug, as an analysis reads it. */
export interface RecentReport {
  readonly event: ReportEvent
  readonly release: string | null
  readonly received_at: Date
}

/** Everything an analysis is made from: the bug, its latest reports (newest first) and its lifecycle (oldest first). */
export interface Case {
  readonly bug: Bug
  readonly reports: ReadonlyArray<RecentReport>
  readonly history: ReadonlyArray<BugEvent>
}

const maxFrames = 40
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…` : s)

export const system = [
  "You are a senior software engineer doing root-cause analysis of a production bug.",
  "Work only from the evidence given (the bug, its latest error reports with their stack frames, and its history).",
  "Name the most likely root cause and the code involved, say how sure you are (confidence 0..1: below 0.5 when the evidence",
  "does not show the cause), rate the risk (low, medium, high), and suggest a fix; give a unified diff as the patch only when",
  "the frames show enough of the code to write one, else null. Answer with the JSON object only."
].join(" ")

const frameLine = (frame: Frame) =>
  `    at ${frame.function ?? "<anonymous>"} (${frame.filename ?? frame.module ?? "?"})${frame.in_app === true ? " [app]" : ""}`

/** The user message: the case as plain text, bounded (a few reports, the innermost frames). */
export const describe = (c: Case): string => {
  const { bug } = c
  const lines = [
    `Bug: ${bug.title}`,
    `Status: ${bug.status}; severity: ${bug.severity ?? "unset"}; category: ${bug.category ?? "unset"}; source: ${bug.source}`,
    `Occurrences: ${bug.occurrences}; last release: ${bug.last_release ?? "unknown"}; environment: ${bug.environment ?? "unknown"}`
  ]
  if (bug.description !== null && bug.description.length > 0) lines.push("Description:", clip(bug.description, 4000))
  c.reports.forEach((report, i) => {
    lines.push(`Error report ${i + 1} (received ${report.received_at.toISOString()}, release ${report.release ?? "unknown"}):`)
    lines.push(`  message: ${clip(report.event.message, 2000)}`)
    Option.match(report.event.exception, {
      onNone: () => undefined,
      onSome: (exception) => {
        lines.push(`  exception: ${exception.type}: ${clip(exception.value, 2000)}`)
        // Innermost last, as the SDKs send them: keep the innermost frames.
        for (const frame of exception.frames.slice(-maxFrames)) lines.push(frameLine(frame))
      }
    })
  })
  if (c.history.length > 0) {
    lines.push("History (oldest first):")
    for (const event of c.history) {
      const move = event.from_status !== null || event.to_status !== null ? ` ${event.from_status ?? "-"} -> ${event.to_status ?? "-"}` : ""
      lines.push(`  ${DateTime.formatIso(event.created_at)} ${event.kind}${move}${event.note === null ? "" : `: ${clip(event.note, 500)}`}`)
    }
  }
  return lines.join("\n")
}

/** What the heuristic reads of the case: the latest report's exception, else the bug's own words. */
export const evidenceOf = (c: Case): Evidence => {
  const exception = c.reports.flatMap((report) => Option.toArray(report.event.exception))[0]
  return { title: c.bug.title, description: c.bug.description, severity: c.bug.severity, exception: exception ?? null }
}
