import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { spawnService, type ChildService } from "./lib/Child.js"
import { client } from "./lib/Client.js"
import { startOtlpReceiver, type OtlpReceiver } from "./lib/Otlp.js"
import { freshDatabase } from "./lib/Service.js"

/**
 * Traces (contract §12): the service as its own process, exporting to a local OTLP/HTTP receiver;
 * its log lines read from its stdout.
 */

let receiver: OtlpReceiver
let service: ChildService
let output = ""

beforeAll(async () => {
  receiver = startOtlpReceiver()
  service = spawnService(
    (await freshDatabase()).url,
    { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "200", OTEL_SERVICE_NAME: "bugbots-test", LOG_LEVEL: "info" },
    { stdout: "pipe" }
  )
  const reader = (service.process.stdout as ReadableStream<Uint8Array>).getReader()
  void (async () => {
    const decoder = new TextDecoder()
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) output += decoder.decode(chunk.value, { stream: true })
  })()
  await service.ready()
}, 60_000)

afterAll(async () => {
  await service.kill()
  receiver.stop()
})

const until = async <A>(read: () => A | undefined, what: string): Promise<A> => {
  for (let i = 0; i < 100; i++) {
    const value = read()
    if (value !== undefined) return value
    await Bun.sleep(100)
  }
  throw new Error(`never: ${what}`)
}

const hex = (bytes: number) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("")

describe("OTLP traces", () => {
  test("an incoming traceparent is continued: the request's span and its Effect.fn child spans arrive with its trace id; the log lines carry it", async () => {
    const root = client(service.baseUrl, service.rootToken)
    const village = await root.post("/api/villages", { name: "traced" })
    expect(village.status).toBe(201)

    const traceId = hex(16)
    const callerSpanId = hex(8)
    const requestId = `traced-${hex(4)}`
    const response = await root.get(`/api/villages/${village.body.id}`, { traceparent: `00-${traceId}-${callerSpanId}-01`, "x-request-id": requestId })
    expect(response.status).toBe(200)

    const server = await until(
      () => receiver.spans.find((s) => s.traceId === traceId && s.parentSpanId === callerSpanId),
      "the request's server span"
    )
    expect(server.kind).toBe(2) // SPAN_KIND_SERVER
    expect(server.serviceName).toBe("bugbots-test")
    expect(server.attributes["http.request.method"]).toBe("GET")
    expect(server.attributes["http.route"]).toBe("/api/villages/:id")
    expect(server.attributes["http.response.status_code"]).toBe(200)
    // The bearer token is not on the span.
    expect(JSON.stringify(server.attributes)).not.toContain(service.rootToken)

    const child = await until(() => receiver.spans.find((s) => s.traceId === traceId && s.name === "Villages.get"), "the Effect.fn span")
    expect(child.parentSpanId).toBeDefined()
    // Villages.get runs under the request's span (directly, or under the API middleware's spans).
    const ancestors = new Set<string>()
    for (let at: string | undefined = child.parentSpanId; at !== undefined; ) {
      ancestors.add(at)
      at = receiver.spans.find((s) => s.spanId === at)?.parentSpanId
    }
    expect(ancestors.has(server.spanId)).toBe(true)
    expect(receiver.refused).toEqual([])

    const line = await until(
      () =>
        output
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as { message: unknown; annotations: Record<string, unknown> })
          .find((l) => l.annotations.correlation_id === requestId),
      "the request's log line"
    )
    expect(line.annotations.trace_id).toBe(traceId)
    expect(line.message).toBe("http request")
  })

  test("a request without traceparent starts its own trace, exported too", async () => {
    const response = await client(service.baseUrl, service.rootToken).get("/api/villages")
    expect(response.status).toBe(200)
    const requestId = response.headers.get("x-request-id")!
    const span = await until(
      () => receiver.spans.find((s) => s.kind === 2 && s.parentSpanId === undefined && s.attributes["http.route"] === "/api/villages"),
      "a root server span"
    )
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(requestId).toBeString()
  })
})
