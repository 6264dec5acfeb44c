import { Option } from "effect"
import { createHash } from "node:crypto"
import type { GroupingComponent } from "../Domain/Report.js"
import type { Frame, ReportEvent } from "./Event.js"

/**
 * How error reports are grouped into bugs (contract §9), as pure functions. The default key is the
 * main exception's type, its in-app frames (module or normalised file name, and function; never line
 * numbers, so a changed line does not split a group), then component and route. Without a stack,
 * the message normalised (numbers, hex strings and UUIDs replaced) stands for the frames. An
 * explicit fingerprint is used as given, `{{ default }}` standing for the default key.
 *
 * The key is the hash of the JSON encoding of its parts: `["ab","c"]` never equals `["a","bc"]`.
 */

const uuid = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi
/** `0x` addresses, and runs of 6+ hex digits mixing digits and letters (hashes, ids). */
const hex = /\b(?:0x[0-9a-f]+|(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,})\b/gi
const number = /\d+(\.\d+)?/g

/** A message with what varies between reports of one error (ids, numbers, addresses) replaced. */
export const normalizeMessage = (message: string) =>
  message.split("\n")[0].replace(uuid, "<uuid>").replace(hex, "<hex>").replace(number, "<n>").trim()

/**
 * A frame's file without what varies between builds and machines: the URL's origin and query, a
 * content hash in a bundle's name, and the directories above the last two.
 */
export const normalizeFile = (filename: string) => {
  const path = filename.replace(/^[a-z]+:\/\/[^/]*/i, "").replace(/[?#].*$/, "").replace(/\\/g, "/")
  const parts = path.split("/").filter((p) => p.length > 0)
  return parts
    .slice(-2)
    .join("/")
    .replace(/([.-])[0-9a-f]{8,}(?=\.)/gi, "$1<hash>")
}

const frameKey = (frame: Frame) => `${frame.module ?? (frame.filename === null ? "?" : normalizeFile(frame.filename))} ${frame.function ?? "?"}`

/** The frames that say where the error is: the application's own, else all of them. */
const significantFrames = (frames: ReadonlyArray<Frame>) => {
  const inApp = frames.filter((f) => f.in_app === true)
  return (inApp.length > 0 ? inApp : frames).map(frameKey)
}

export interface Fingerprinted {
  readonly fingerprint: string
  readonly components: ReadonlyArray<GroupingComponent>
}

const hashOf = (parts: ReadonlyArray<unknown>) => createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 32)

/** The default key's components, each saying whether it went into the key. */
export const defaultComponents = (event: ReportEvent): ReadonlyArray<GroupingComponent> => {
  const exception = Option.getOrUndefined(event.exception)
  const frames = exception === undefined ? [] : significantFrames(exception.frames)
  const stack = frames.length > 0
  const message = normalizeMessage(exception !== undefined && exception.value.length > 0 ? exception.value : event.message)
  return [
    { name: "exception.type", values: exception === undefined ? [] : [exception.type], contributed: exception !== undefined },
    { name: "frames", values: frames, contributed: stack },
    { name: "message", values: [message], contributed: !stack },
    { name: "component", values: event.component === null ? [] : [event.component], contributed: event.component !== null },
    { name: "route", values: event.route === null ? [] : [event.route], contributed: event.route !== null }
  ]
}

const keyParts = (components: ReadonlyArray<GroupingComponent>) => components.filter((c) => c.contributed).map((c) => [c.name, c.values])

const isDefault = (part: string) => /^\{\{\s*default\s*\}\}$/.test(part)

/** The fingerprint of a report, and why. */
export const fingerprintOf = (event: ReportEvent): Fingerprinted => {
  const defaults = defaultComponents(event)
  if (event.fingerprint === null || event.fingerprint.length === 0) {
    return { fingerprint: hashOf(keyParts(defaults)), components: defaults }
  }
  const usesDefault = event.fingerprint.some(isDefault)
  const parts = event.fingerprint.map((part) => (isDefault(part) ? keyParts(defaults) : part))
  return {
    fingerprint: hashOf(parts),
    components: [
      { name: "fingerprint", values: [...event.fingerprint], contributed: true },
      ...defaults.map((c) => ({ ...c, contributed: usesDefault && c.contributed }))
    ]
  }
}
