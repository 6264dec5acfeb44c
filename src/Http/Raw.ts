import { HttpServerResponse } from "@effect/platform"

/**
 * A response whose body is JSON built by PostgreSQL, passed through undecoded. The endpoint's
 * declared success schema still describes it (and a test decodes it with that schema). The text is
 * handed to Bun as it is: Bun encodes it while writing, with no copy of ours in between.
 */
export const jsonResponse = (json: string, status = 200) => HttpServerResponse.raw(json, { status, contentType: "application/json" })
