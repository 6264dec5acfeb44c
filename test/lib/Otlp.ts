/**
 * A stand-in OpenTelemetry collector: a real HTTP server on an ephemeral port that takes OTLP/HTTP
 * JSON exports (`POST /v1/traces`, as the OTLP specification encodes them) and keeps every span.
 */

export interface RecordedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  readonly kind: number
  readonly serviceName: string | undefined
  readonly attributes: Record<string, unknown>
}

interface KeyValue {
  readonly key: string
  readonly value: Record<string, unknown>
}

const valueOf = (value: Record<string, unknown>) => Object.values(value)[0]
const attributesOf = (list: ReadonlyArray<KeyValue> | undefined) => Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]))

export interface OtlpReceiver {
  readonly url: string
  readonly spans: Array<RecordedSpan>
  /** Requests that were not OTLP JSON traces (content type, path or body). */
  readonly refused: Array<string>
  readonly stop: () => void
}

export const startOtlpReceiver = (): OtlpReceiver => {
  const spans: Array<RecordedSpan> = []
  const refused: Array<string> = []
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname
      if (request.method !== "POST" || path !== "/v1/traces" || !(request.headers.get("content-type") ?? "").startsWith("application/json")) {
        refused.push(`${request.method} ${path} ${request.headers.get("content-type")}`)
        return new Response("unsupported", { status: 415 })
      }
      const body = (await request.json()) as {
        resourceSpans?: ReadonlyArray<{
          resource?: { attributes?: ReadonlyArray<KeyValue> }
          scopeSpans?: ReadonlyArray<{ spans?: ReadonlyArray<Record<string, any>> }>
        }>
      }
      for (const resourceSpans of body.resourceSpans ?? []) {
        const serviceName = attributesOf(resourceSpans.resource?.attributes)["service.name"] as string | undefined
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId || undefined,
              name: span.name,
              kind: span.kind,
              serviceName,
              attributes: attributesOf(span.attributes)
            })
          }
        }
      }
      return Response.json({ partialSuccess: {} })
    }
  })
  return { url: `http://127.0.0.1:${server.port}`, spans, refused, stop: () => server.stop(true) }
}
