import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { client, type Client, type Reply } from "./lib/Client.js"
import { makeAgent, makeBug, makeVillage } from "./lib/Fixtures.js"
import { sign, webhookSecret } from "./lib/GitHub.js"
import { startService, type TestService } from "./lib/Service.js"

/** Bad input of every kind gets the contract's envelope (§2) and changes nothing. */

let svc: TestService
let root: Client
let village: Awaited<ReturnType<typeof makeVillage>>
let agent: Awaited<ReturnType<typeof makeAgent>>

beforeAll(async () => {
  svc = await startService({ env: { GITHUB_WEBHOOK_SECRET: webhookSecret } })
  root = client(svc.baseUrl, svc.rootToken)
  village = await makeVillage(svc)
  agent = await makeAgent(svc, village.id)
})
afterAll(() => svc.stop())

const expectEnvelope = (reply: Pick<Reply, "status" | "body" | "headers">, status: number, code: string) => {
  expect(reply.status).toBe(status)
  expect(reply.body?.error?.code).toBe(code)
  expect(typeof reply.body.error.message).toBe("string")
  expect(reply.body.error.request_id).toBe(reply.headers.get("x-request-id")!)
}

const asReply = async (response: Response): Promise<Reply> => {
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // kept as text: the assertion shows it
  }
  return { status: response.status, body, headers: response.headers }
}

describe("bodies over the limit", () => {
  const sizes = [2e6, 12e6, 100e6]
  const chunked = (bytes: Uint8Array) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 256 * 1024) controller.enqueue(bytes.subarray(i, i + 256 * 1024))
        controller.close()
      }
    })

  for (const path of ["/api/villages", "/api/webhooks/github", "/rpc"]) {
    for (const size of sizes) {
      for (const framing of ["content-length", "chunked"] as const) {
        test(`${path}: ${size / 1e6} MB with ${framing} is 413 in the envelope`, async () => {
          const bytes = new Uint8Array(size).fill(0x20)
          const response = await fetch(`${svc.baseUrl}${path}`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${svc.rootToken}`,
              "content-type": "application/json",
              "x-github-event": "issues",
              "x-github-delivery": crypto.randomUUID(),
              "x-hub-signature-256": "sha256=00",
              "x-request-id": `big-${size}-${framing}`
            },
            body: framing === "chunked" ? chunked(bytes) : bytes
          })
          const reply = await asReply(response)
          expectEnvelope(reply, 413, "PAYLOAD_TOO_LARGE")
          expect(reply.headers.get("x-request-id")).toBe(`big-${size}-${framing}`)
        })
      }
    }
  }

  test("a chunked body under the limit is read whole", async () => {
    const body = new TextEncoder().encode(JSON.stringify({ name: `chunked-${"x".repeat(50)}` }))
    const response = await fetch(`${svc.baseUrl}/api/villages`, {
      method: "POST",
      headers: { authorization: `Bearer ${svc.rootToken}`, "content-type": "application/json" },
      body: chunked(body)
    })
    expect(response.status).toBe(201)
    expect((await response.json()).name).toStartWith("chunked-")
  })

  test("a signed webhook sent chunked is accepted", async () => {
    const payload = JSON.stringify({ action: "created", zen: "Keep it logically awesome." })
    const response = await fetch(`${svc.baseUrl}/api/webhooks/github`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "ping",
        "x-github-delivery": crypto.randomUUID(),
        "x-hub-signature-256": sign(payload)
      },
      body: chunked(new TextEncoder().encode(payload))
    })
    expect(response.status).toBe(202)
  })
})

describe("NUL characters and lengths", () => {
  const nul = "bad\u0000value"

  /** Each request carries a NUL in one field: 400 naming that field, and nothing stored. */
  const cases = (): ReadonlyArray<{ field: string; send: () => Promise<Reply> }> => [
    { field: "login", send: () => root.post("/api/users", { login: nul }) },
    { field: "email", send: () => root.post("/api/users", { login: `u-${crypto.randomUUID()}`, email: nul }) },
    { field: "name", send: () => root.post("/api/villages", { name: nul }) },
    { field: "full_name", send: () => root.post(`/api/villages/${village.id}/repos`, { full_name: `org/${nul}` }) },
    { field: "name", send: () => root.post(`/api/villages/${village.id}/agents`, { name: nul }) },
    { field: "kind", send: () => root.post(`/api/villages/${village.id}/agents`, { name: `a-${crypto.randomUUID()}`, kind: nul }) },
    {
      field: "config",
      send: () => root.post(`/api/villages/${village.id}/agents`, { name: `a-${crypto.randomUUID()}`, config: { model: nul } })
    },
    {
      field: "config",
      send: () => root.post(`/api/villages/${village.id}/agents`, { name: `a-${crypto.randomUUID()}`, config: { [nul]: 1 } })
    },
    { field: "title", send: () => root.post(`/api/villages/${village.id}/bugs`, { repo_id: village.repoId, title: nul }) },
    {
      field: "description",
      send: () => root.post(`/api/villages/${village.id}/bugs`, { repo_id: village.repoId, title: "t", description: nul })
    },
    {
      field: "category",
      send: () => root.post(`/api/villages/${village.id}/bugs`, { repo_id: village.repoId, title: "t", category: nul })
    },
    { field: "name", send: async () => root.post(`/api/users/${(await root.get("/api/me")).body.id}/tokens`, { name: nul }) }
  ]

  test("a NUL in any string field is 400 VALIDATION_FAILED naming the field", async () => {
    const before = await svc.sql`select (select count(*) from users) + (select count(*) from villages) + (select count(*) from agents) + (select count(*) from bug_bots) as n`
    for (const { field, send } of cases()) {
      const reply = await send()
      expectEnvelope(reply, 400, "VALIDATION_FAILED")
      expect(reply.body.error.message).toContain(field)
    }
    const after = await svc.sql`select (select count(*) from users) + (select count(*) from villages) + (select count(*) from agents) + (select count(*) from bug_bots) as n`
    expect(after[0].n).toBe(before[0].n)
  })

  test("notes, reasons and work-stream events refuse NUL too", async () => {
    const bug = await makeBug(root, village.id, village.repoId)
    const note = await root.post(`/api/bugs/${bug.id}/notes`, { body: nul })
    expectEnvelope(note, 400, "VALIDATION_FAILED")
    expect(note.body.error.message).toContain("body")
    const reason = await root.put(`/api/bugs/${bug.id}/status`, { status: "triaged", reason: nul })
    expectEnvelope(reason, 400, "VALIDATION_FAILED")
    expect(reason.body.error.message).toContain("reason")
    const session = await agent.api.post("/api/agents/me/sessions")
    expect(session.status).toBe(201)
    for (const [field, body] of [
      ["type", { type: nul }],
      ["message", { type: "log", message: nul }],
      ["data", { type: "log", data: { nested: [{ deep: nul }] } }]
    ] as const) {
      const reply = await agent.api.post(`/api/agent-sessions/${session.body.id}/events`, body)
      expectEnvelope(reply, 400, "VALIDATION_FAILED")
      expect(reply.body.error.message).toContain(field)
    }
    expect((await root.get(`/api/bugs/${bug.id}`)).body.version).toBe(bug.version)
  })

  test("every string field has a maximum length", async () => {
    const huge = "x".repeat(200_000)
    for (const reply of [
      await root.post("/api/users", { login: `u-${crypto.randomUUID()}`, email: huge }),
      await root.post(`/api/villages/${village.id}/agents`, { name: `a-${crypto.randomUUID()}`, kind: huge }),
      await root.post(`/api/villages/${village.id}/agents`, { name: `a-${crypto.randomUUID()}`, config: { blob: "y".repeat(900_000) } })
    ]) {
      expectEnvelope(reply, 400, "VALIDATION_FAILED")
    }
  })

  test("OpenAPI documents the bounds of every string field of every request body", async () => {
    const spec = (await client(svc.baseUrl).get("/openapi.json")).body
    const resolve = (schema: any): any => (schema?.$ref ? resolve(spec.components.schemas[schema.$ref.split("/").pop()]) : schema)
    const unbounded: Array<string> = []
    const walk = (schema: any, where: string, seen: Set<any>) => {
      schema = resolve(schema)
      if (schema === undefined || seen.has(schema)) return
      seen.add(schema)
      if (schema.type === "string" && schema.maxLength === undefined && schema.enum === undefined && schema.format !== "uuid") {
        unbounded.push(where)
      }
      for (const [name, property] of Object.entries(schema.properties ?? {})) walk(property, `${where}.${name}`, seen)
      for (const key of ["anyOf", "oneOf", "allOf"]) for (const option of schema[key] ?? []) walk(option, where, seen)
      if (schema.items) walk(schema.items, `${where}[]`, seen)
    }
    for (const [path, item] of Object.entries<any>(spec.paths)) {
      for (const [method, operation] of Object.entries<any>(item)) {
        const body = operation?.requestBody?.content?.["application/json"]?.schema
        if (body !== undefined && path !== "/api/webhooks/github") walk(body, `${method.toUpperCase()} ${path}`, new Set())
      }
    }
    expect(unbounded).toEqual([])
  })
})

describe("cursors", () => {
  const forged = [
    Buffer.from(JSON.stringify(["x", "y"])).toString("base64url"),
    Buffer.from(JSON.stringify(["x", "y", "z"])).toString("base64url"),
    Buffer.from(JSON.stringify([1.5])).toString("base64url"),
    Buffer.from(JSON.stringify([{}])).toString("base64url"),
    Buffer.from(JSON.stringify(["2026-02-30T00:00:00.000000Z", crypto.randomUUID()])).toString("base64url"),
    Buffer.from(JSON.stringify(["2026-01-01T00:00:00.000000Z", "not-a-uuid"])).toString("base64url"),
    Buffer.from(JSON.stringify([99, "2026-01-01T00:00:00.000000Z", crypto.randomUUID()])).toString("base64url"),
    Buffer.from(JSON.stringify(["1e999"])).toString("base64url"),
    Buffer.from(JSON.stringify([-1])).toString("base64url")
  ]

  test("a well-formed cursor with wrong values inside is 400 on every list", async () => {
    const bug = await makeBug(root, village.id, village.repoId)
    const session = await agent.api.post("/api/agents/me/sessions")
    const lists = [
      "/api/villages",
      `/api/villages/${village.id}/repos`,
      `/api/villages/${village.id}/agents`,
      `/api/villages/${village.id}/bugs`,
      `/api/villages/${village.id}/bugs?sort=severity`,
      `/api/villages/${village.id}/bugs?sort=updated_at`,
      `/api/bugs/${bug.id}/events`,
      `/api/agent-sessions/${session.body.id}/events`,
      "/api/admin/webhook-deliveries"
    ]
    for (const list of lists) {
      for (const cursor of forged) {
        const reply = await root.get(`${list}${list.includes("?") ? "&" : "?"}cursor=${cursor}`)
        if (reply.status !== 400) throw new Error(`${list} with cursor ${Buffer.from(cursor, "base64url")} answered ${reply.status}`)
        expectEnvelope(reply, 400, "VALIDATION_FAILED")
      }
    }
  })
})

describe("unknown body fields", () => {
  test("are refused with 400 naming the field, as /openapi.json's additionalProperties: false says", async () => {
    const bug = await makeBug(root, village.id, village.repoId)
    const typo = await root.put(`/api/bugs/${bug.id}/status`, { status: "triaged", expected_verison: 1 })
    expectEnvelope(typo, 400, "VALIDATION_FAILED")
    expect(typo.body.error.message).toContain("expected_verison")
    expect((await root.get(`/api/bugs/${bug.id}`)).body.status).toBe("open")
    const village2 = await root.post("/api/villages", { name: "v", colour: "red" })
    expectEnvelope(village2, 400, "VALIDATION_FAILED")
    const claim = await agent.api.post("/api/agents/claim", { lease_second: 60 })
    expectEnvelope(claim, 400, "VALIDATION_FAILED")
    const spec = (await client(svc.baseUrl).get("/openapi.json")).body
    expect(JSON.stringify(spec)).toContain('"additionalProperties":false')
  })
})
