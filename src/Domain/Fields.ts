import { Schema } from "effect"

/** A JSON object as stored (metadata, config, event data). */
export const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const nul = "\u0000"
const noNul = "must not contain the NUL character (U+0000): PostgreSQL cannot store it"

/**
 * Every string a client sends: at most `max` characters (at least `min`, default 1) and no NUL,
 * which PostgreSQL's text and jsonb cannot hold. The length is checked first, so a huge value is
 * refused before it is scanned.
 */
export const Text = (max: number, options: { readonly min?: number } = {}) =>
  Schema.String.pipe(
    Schema.minLength(options.min ?? 1),
    Schema.maxLength(max),
    Schema.filter((s) => !s.includes(nul) || noNul, { jsonSchema: { pattern: "^[^\\u0000]*$" } })
  )

/** The most a client's free-form JSON object (agent config, work-stream data) may weigh once serialised. */
export const maxJsonBytes = 64 * 1024
const maxJsonDepth = 32

/** Why a client's JSON value cannot be stored as it is, if it cannot. */
const jsonProblem = (value: unknown, depth: number): string | undefined => {
  if (depth > maxJsonDepth) return `must not nest deeper than ${maxJsonDepth} levels`
  if (typeof value === "string") return value.includes(nul) ? noNul : undefined
  if (typeof value !== "object" || value === null) return undefined
  for (const [key, item] of Array.isArray(value) ? value.entries() : Object.entries(value)) {
    if (typeof key === "string" && key.includes(nul)) return noNul
    const problem = jsonProblem(item, depth + 1)
    if (problem !== undefined) return problem
  }
  return undefined
}

/** A JSON object a client sends: at most `maxJsonBytes` serialised, no NUL in any key or string. */
export const JsonInput = JsonObject.pipe(
  Schema.filter((value) => {
    if (JSON.stringify(value).length > maxJsonBytes) return `must be at most ${maxJsonBytes} bytes of JSON`
    return jsonProblem(value, 0)
  })
).annotations({ description: `a JSON object, at most ${maxJsonBytes} bytes, with no NUL characters` })

/**
 * A request body: unknown fields are refused (400 naming them), as the OpenAPI description's
 * `additionalProperties: false` says, so a misspelt optional field is not silently ignored.
 */
export const strict = <S extends Schema.Schema.Any>(schema: S): S =>
  schema.annotations({ parseOptions: { onExcessProperty: "error" } }) as S

export const Payload = <Fields extends Schema.Struct.Fields>(fields: Fields) => strict(Schema.Struct(fields))

/** A timestamp: RFC 3339 UTC on the wire. */
export const Timestamp = Schema.DateTimeUtc
/** A timestamp a client sends: bounded like every string, then parsed. */
export const TimestampInput = Schema.compose(Text(64), Schema.DateTimeUtc).annotations({ description: "an RFC 3339 timestamp" })
export const NullableTimestamp = Schema.NullOr(Schema.DateTimeUtc)

/** An upstream (GitHub) numeric id a client may give on create. */
export const OptionalUpstreamId = Schema.optionalWith(Schema.NullOr(Schema.Int.pipe(Schema.positive())), { default: () => null })
