import { HttpServerResponse } from "@effect/platform"

/**
 * A response whose body is JSON built by PostgreSQL, passed through undecoded. The endpoint's
 * declared success schema still describes it (and a test decodes it with that schema).
 */
export const jsonResponse = (json: string, status = 200) => HttpServerResponse.text(json, { status, contentType: "application/json" })
