/**
 * How the CLI shows things to people: aligned tables that fit the terminal, colours only when
 * standard output is a terminal (and `NO_COLOR` is unset). Scripts use `--json` instead.
 */

export const colours = process.stdout.isTTY === true && !process.env.NO_COLOR

const ansi = (code: string) => (text: string) => (colours ? `\u001b[${code}m${text}\u001b[0m` : text)
export const bold = ansi("1")
export const dim = ansi("2")
export const red = ansi("31")
export const green = ansi("32")
export const yellow = ansi("33")
export const cyan = ansi("36")

const severityColour: Record<string, (text: string) => string> = {
  critical: (text) => bold(red(text)),
  high: red,
  medium: yellow,
  low: dim
}
export const severity = (value: string | null) => (value === null ? dim("-") : (severityColour[value] ?? String)(value))

const statusColour: Record<string, (text: string) => string> = { resolved: green, closed: dim, in_progress: cyan, assigned: cyan }
export const status = (value: string) => (statusColour[value] ?? String)(value)

/** The width of what a person sees (colour codes take none). */
const visible = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "").length

const truncate = (text: string, width: number) => (text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`)

export interface Column<Row> {
  readonly header: string
  readonly cell: (row: Row) => string
  /** Numbers line up on the right. */
  readonly align?: "left" | "right"
  /** The one column that gives up width when the table is wider than the terminal. */
  readonly shrink?: boolean
  /** The colour of a cell, applied after its width is settled. */
  readonly colour?: (text: string, row: Row) => string
}

/** A table: a bold header, then one line per row; the shrinking column is cut to fit the terminal. */
export const table = <Row>(columns: ReadonlyArray<Column<Row>>, rows: ReadonlyArray<Row>): string => {
  const cells = rows.map((row) => columns.map((column) => column.cell(row)))
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((line) => line[i].length)))
  const terminal = process.stdout.isTTY === true ? process.stdout.columns ?? 0 : 0
  const total = widths.reduce((a, b) => a + b, 0) + 2 * (columns.length - 1)
  const shrinking = columns.findIndex((c) => c.shrink === true)
  if (terminal > 0 && total > terminal && shrinking >= 0) {
    widths[shrinking] = Math.max(columns[shrinking].header.length, 10, widths[shrinking] - (total - terminal))
  }
  const pad = (text: string, width: number, align: "left" | "right") => {
    const space = " ".repeat(Math.max(0, width - visible(text)))
    return align === "right" ? space + text : text + space
  }
  const line = (values: ReadonlyArray<string>, row: Row | undefined) =>
    values
      .map((value, i) => {
        const column = columns[i]
        const cut = truncate(value, widths[i])
        const shown = row === undefined ? bold(cut) : column.colour?.(cut, row) ?? cut
        return pad(shown, widths[i], column.align ?? "left")
      })
      .join("  ")
      .trimEnd()
  return [line(columns.map((c) => c.header), undefined), ...cells.map((values, r) => line(values, rows[r]))].join("\n")
}

/** `2026-11-23 13:05` in UTC, the way a table shows a time. */
export const when = (date: Date | undefined | null) => (date == null ? "-" : date.toISOString().slice(0, 16).replace("T", " "))
