import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Effect, Schema } from "effect"
import { makeClient } from "../src/Rpc/Client.js"
import { BugbotsClient } from "../src/Rpc/Client.js"
import { Analysis } from "../src/Domain/Analysis.js"
import { Claimed } from "../src/Domain/Work.js"
import { anthropicStandIn, openAiStandIn, type ProviderStandIn, sampleAnswer } from "./lib/AiProviders.js"
import { client } from "./lib/Client.js"
import { makeAgent, makeBug, makeUser, makeVillage } from "./lib/Fixtures.js"
import { startService, type TestService } from "./lib/Service.js"

let svc: TestService
let anthropic: ProviderStandIn
let openai: ProviderStandIn
const timeoutMs = 1000

beforeAll(async () => {
  anthropic = anthropicStandIn()
  openai = openAiStandIn()
  svc = await startService({
    env: {
      BUGBOTS_AI_PROVIDERS: "anthropic,openai",
      BUGBOTS_AI_TIMEOUT: `${timeoutMs} millis`,
      BUGBOTS_ANTHROPIC_API_KEY: "sk-ant-test-key",
      BUGBOTS_ANTHROPIC_BASE_URL: anthropic.baseUrl,
      BUGBOTS_ANTHROPIC_MODEL: "claude-test",
      BUGBOTS_OPENAI_API_KEY: "sk-openai-test-key",
      BUGBOTS_OPENAI_BASE_URL: `${openai.baseUrl}/v1`,
      BUGBOTS_OPENAI_MODEL: "gpt-test"
    }
  })
})
afterAll(async () => {
  await svc.stop()
  anthropic.stop()
  openai.stop()
})

const decodeAnalysis = Schema.decodeUnknownSync(Analysis)

/** A report bug with a real exception: what the prompt and the heuristic read. */
const reportedBug = async (village: { id: string; repoId: string; root: ReturnType<typeof client> }) => {
  const report = await village.root.post("/api/reports", {
    repo_id: village.repoId,
    message: "Cannot read properties of undefined (reading 'total')",
    release: "shop@2.14.1",
    exception: {
      type: "TypeError",
      value: `Cannot read properties of undefined (reading 'total') ${crypto.randomUUID()}`,
      frames: [
        { filename: "src/server.ts", function: "handle", in_app: true },
        { filename: "src/checkout.ts", function: "checkoutTotal", lineno: 42, in_app: true }
      ]
    },
    fingerprint: [crypto.randomUUID()]
  })
  expect(report.status).toBe(201)
  return report.body.bug_id as string
}

/** Requests an analysis and waits for it to settle; the analysis as listed. */
const analyse = async (api: ReturnType<typeof client>, bugId: string) => {
  const accepted = await api.post(`/api/bugs/${bugId}/analyses`)
  expect(accepted.status).toBe(202)
  expect(accepted.body.status).toBe("pending")
  const deadline = Date.now() + 15_000
  for (;;) {
    const list = await api.get(`/api/bugs/${bugId}/analyses`)
    expect(list.status).toBe(200)
    const mine = list.body.items.find((a: any) => a.id === accepted.body.id)
    expect(mine).toBeDefined()
    if (mine.status !== "pending") return decodeAnalysis(mine) && mine
    if (Date.now() > deadline) throw new Error("the analysis did not settle")
    await Bun.sleep(100)
  }
}

const modes = (a: ProviderStandIn["mode"], o: ProviderStandIn["mode"]) => {
  anthropic.mode = a
  openai.mode = o
  anthropic.delayMs = openai.delayMs = timeoutMs * 3
}

describe("analyses: providers in order, each failure falling back", () => {
  test("the first provider answers: its structured output, from a prompt made of the bug, its reports and its lifecycle", async () => {
    modes("good", "good")
    const v = await makeVillage(svc)
    const bugId = await reportedBug(v)
    const before = anthropic.requests.length
    const analysis = await analyse(v.root, bugId)
    expect(analysis).toMatchObject({
      status: "done",
      provider: "anthropic",
      model: "claude-test",
      classification: "anthropic_says",
      confidence: 0.82,
      risk: "medium",
      suggested_fix: { summary: "Await the cart before computing its total", patch: sampleAnswer("x").suggested_fix.patch },
      fallbacks: []
    })
    expect(analysis.finished_at).not.toBeNull()
    expect(openai.requests.length).toBe(0)
    const request = anthropic.requests[before]
    expect(request.headers.get("x-api-key")).toBe("sk-ant-test-key")
    expect(request.body.model).toBe("claude-test")
    const prompt = JSON.stringify(request.body.messages) + JSON.stringify(request.body.system ?? "")
    expect(prompt).toContain("Cannot read properties of undefined (reading 'total')")
    expect(prompt).toContain("checkoutTotal (src/checkout.ts) [app]")
    expect(prompt).toContain("shop@2.14.1")
    expect(prompt).toContain("created")
    // Structured output: a forced tool whose input schema is the analysis.
    expect(request.body.tool_choice).toMatchObject({ type: "tool", name: "root_cause_analysis" })
    expect(request.body.tools[0].input_schema.required).toContain("root_cause")
  })

  test("a 500 from the first falls back to the second (chat completions with a strict JSON schema)", async () => {
    modes("error", "good")
    const v = await makeVillage(svc)
    const bugId = await reportedBug(v)
    const before = openai.requests.length
    const analysis = await analyse(v.root, bugId)
    expect(analysis.provider).toBe("openai")
    expect(analysis.model).toBe("gpt-test")
    expect(analysis.classification).toBe("openai_says")
    expect(analysis.fallbacks).toHaveLength(1)
    expect(analysis.fallbacks[0]).toMatchObject({ provider: "anthropic", model: "claude-test" })
    expect(analysis.fallbacks[0].error).toContain("500")
    const request = openai.requests[before]
    expect(request.headers.get("authorization")).toBe("Bearer sk-openai-test-key")
    expect(request.body.response_format).toMatchObject({ type: "json_schema", json_schema: { name: "root_cause_analysis", strict: true } })
    expect(request.body.messages[0].role).toBe("system")
    expect(request.body.messages[1].content).toContain("Cannot read properties of undefined")
  })

  test("an undecodable answer, then a timeout, fall back to the heuristic, labelled as such", async () => {
    modes("bad", "slow")
    const v = await makeVillage(svc)
    const bugId = await reportedBug(v)
    const started = Date.now()
    const analysis = await analyse(v.root, bugId)
    expect(analysis.provider).toBe("heuristic")
    expect(analysis.model).toBe("heuristic-rules/1")
    expect(analysis.classification).toBe("null_reference")
    expect(analysis.confidence).toBeLessThanOrEqual(0.5)
    expect(analysis.root_cause).toStartWith("Heuristic (no model)")
    expect(analysis.root_cause).toContain("checkoutTotal (src/checkout.ts)")
    expect(analysis.suggested_fix.patch).toBeUndefined()
    expect(analysis.fallbacks.map((f: any) => f.provider)).toEqual(["anthropic", "openai"])
    expect(analysis.fallbacks[0].error).toMatch(/MalformedOutput|schema/i)
    expect(analysis.fallbacks[1].error).toContain("no answer within")
    // The timeout cut the slow provider short: well before its answer would have come.
    expect(Date.now() - started).toBeLessThan(timeoutMs * 3)
  })

  test("a timeout then a 500: the heuristic; keys never appear in what is stored", async () => {
    modes("slow", "error")
    const v = await makeVillage(svc)
    const bugId = await reportedBug(v)
    const analysis = await analyse(v.root, bugId)
    expect(analysis.provider).toBe("heuristic")
    expect(analysis.fallbacks.map((f: any) => f.provider)).toEqual(["anthropic", "openai"])
    expect(analysis.fallbacks[0].error).toContain("no answer within")
    expect(analysis.fallbacks[1].error).toContain("500")
    expect(JSON.stringify(analysis)).not.toContain("test-key")
  })

  test("a bug with no report is analysed from its own words", async () => {
    modes("error", "error")
    const v = await makeVillage(svc)
    const bug = await makeBug(v.root, v.id, v.repoId, { title: "Checkout fails: connect ECONNREFUSED 10.1.2.3:5432", severity: "critical" })
    const analysis = await analyse(v.root, bug.id)
    expect(analysis).toMatchObject({ provider: "heuristic", classification: "connection_refused", risk: "high", confidence: 0.2 })
  })
})

describe("analyses: who may ask, and what agents see", () => {
  test("triagers may ask, operators may not (403), outsiders see nothing (404); the assigned agent may ask", async () => {
    modes("good", "good")
    const v = await makeVillage(svc)
    const bug = await makeBug(v.root, v.id, v.repoId)
    const triager = await makeUser(svc, { village: v.id, role: "triager" })
    const operator = await makeUser(svc, { village: v.id, role: "operator" })
    const outsider = await makeUser(svc)
    expect((await triager.api.post(`/api/bugs/${bug.id}/analyses`)).status).toBe(202)
    const refused = await operator.api.post(`/api/bugs/${bug.id}/analyses`)
    expect(refused.status).toBe(403)
    expect(refused.body.error.code).toBe("FORBIDDEN")
    expect((await operator.api.get(`/api/bugs/${bug.id}/analyses`)).status).toBe(200)
    expect((await outsider.api.post(`/api/bugs/${bug.id}/analyses`)).status).toBe(404)
    expect((await outsider.api.get(`/api/bugs/${bug.id}/analyses`)).status).toBe(404)
    expect((await v.root.post(`/api/bugs/not-a-uuid/analyses`)).status).toBe(400)
    expect((await v.root.post(`/api/bugs/${crypto.randomUUID()}/analyses`)).status).toBe(404)
    const agent = await makeAgent(svc, v.id)
    const other = await makeAgent(svc, v.id)
    expect((await agent.api.post(`/api/bugs/${bug.id}/analyses`)).status).toBe(403)
    expect((await v.root.post(`/api/bugs/${bug.id}/assign`, { agent_id: agent.id })).status).toBe(200)
    expect((await agent.api.post(`/api/bugs/${bug.id}/analyses`)).status).toBe(202)
    expect((await other.api.post(`/api/bugs/${bug.id}/analyses`)).status).toBe(403)
  })

  test("a claim carries the bug's latest done analysis (REST and RPC); a bug without one claims as before", async () => {
    modes("good", "good")
    const v = await makeVillage(svc)
    const plain = await makeBug(v.root, v.id, v.repoId, { severity: "low" })
    const bugId = await reportedBug(v)
    expect((await v.root.patch(`/api/bugs/${bugId}`, { severity: "critical" })).status).toBe(200)
    anthropic.answer = sampleAnswer("first_look")
    await analyse(v.root, bugId)
    anthropic.answer = sampleAnswer("second_look")
    const latest = await analyse(v.root, bugId)
    anthropic.answer = sampleAnswer("anthropic_says")
    const agent = await makeAgent(svc, v.id)
    const claimed = await agent.api.post("/api/agents/claim", {})
    expect(claimed.status).toBe(200)
    expect(claimed.body.bug.id).toBe(bugId)
    expect(claimed.body.bug.analysis).toEqual(latest)
    expect(claimed.body.bug.analysis.classification).toBe("second_look")
    const decoded = Schema.decodeUnknownSync(Claimed)(claimed.body)
    expect(decoded.bug.analysis?.classification).toBe("second_look")

    const rpcAgent = await makeAgent(svc, v.id)
    const viaRpc = await Effect.runPromise(
      Effect.flatMap(BugbotsClient, (c) => c.Claim({ lease_seconds: 60 })).pipe(
        Effect.provide(makeClient({ url: svc.baseUrl, token: rpcAgent.token })),
        Effect.scoped
      )
    )
    expect(viaRpc?.bug.id).toBe(plain.id)
    expect(viaRpc?.bug.analysis).toBeUndefined()
  })
})
