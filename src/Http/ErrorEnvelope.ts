/**
 * The error envelope of contract §2, as the contract describes it: every error response, whatever
 * its status, is `{"error": {code, message, request_id, details?}}`. Imported by the API
 * description, so it carries no server code.
 */

/** `VersionConflict` → `VERSION_CONFLICT`; the decoder's own error is `VALIDATION_FAILED`. */
export const codeOf = (tag: string) =>
  tag === "HttpApiDecodeError" || tag === "ParseError" ? "VALIDATION_FAILED" : tag.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()

const ErrorEnvelopeSchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "request_id"],
      properties: {
        code: { type: "string", description: "UPPER_SNAKE_CODE, e.g. NOT_FOUND, VERSION_CONFLICT, INVALID_TRANSITION, VALIDATION_FAILED" },
        message: { type: "string" },
        request_id: { type: "string", description: "the x-request-id of the request" },
        details: { description: "optional; for VALIDATION_FAILED the decoder's issues" }
      }
    }
  }
}

/**
 * The generated document describes errors by their tagged schemas; on the wire every error is the
 * envelope, so every 4xx/5xx response is rewritten to say so (the tag's name gives the code).
 */
export const envelopeOpenApi = (spec: Record<string, any>) => {
  for (const item of Object.values<Record<string, any>>(spec.paths ?? {})) {
    for (const operation of Object.values<Record<string, any>>(item)) {
      for (const [status, response] of Object.entries<Record<string, any>>(operation?.responses ?? {})) {
        if (Number(status) < 400) continue
        response.content = { "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" } } }
      }
    }
  }
  spec.components = { ...spec.components, schemas: { ...spec.components?.schemas, ErrorEnvelope: ErrorEnvelopeSchema } }
  return spec
}
