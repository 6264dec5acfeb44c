/**
 * Stand-ins for the AI providers of analyses, on ephemeral ports, speaking their documented wire
 * formats: an OpenAI-compatible chat-completions server (`POST /v1/chat/completions`) and an
 * Anthropic messages server (`POST /v1/messages`). Each answers as `mode` says:
 * - `good`: a well-formed answer carrying `answer` as the structured output;
 * - `bad`: a well-formed answer whose content does not decode into the analysis schema;
 * - `slow`: a good answer after `delayMs` (past the service's timeout);
 * - `error`: a 500 with the provider's error body.
 */
export type Mode = "good" | "bad" | "slow" | "error"

export interface Answer {
  readonly classification: string
  readonly root_cause: string
  readonly confidence: number
  readonly risk: "low" | "medium" | "high"
  readonly suggested_fix: { readonly summary: string; readonly patch: string | null }
}

export interface ProviderStandIn {
  readonly baseUrl: string
  mode: Mode
  delayMs: number
  answer: Answer
  /** Every request received: headers and parsed body. */
  readonly requests: Array<{ readonly path: string; readonly headers: Headers; readonly body: any }>
  readonly stop: () => void
}

export const sampleAnswer = (classification: string): Answer => ({
  classification,
  root_cause: `${classification}: the cart total is read before the cart is loaded`,
  confidence: 0.82,
  risk: "medium",
  suggested_fix: { summary: "Await the cart before computing its total", patch: "--- a/cart.ts\n+++ b/cart.ts\n@@\n-total(cart)\n+total(await cart)\n" }
})

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })

const serve = (
  respond: (standIn: ProviderStandIn, body: any) => Response,
  errorBody: unknown,
  path: string,
  initial: Answer
): ProviderStandIn => {
  const standIn: ProviderStandIn = {
    baseUrl: "",
    mode: "good",
    delayMs: 0,
    answer: initial,
    requests: [],
    stop: () => server.stop(true)
  }
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: async (request) => {
      const url = new URL(request.url)
      if (request.method !== "POST" || url.pathname !== path) return json({ error: { message: "not found" } }, 404)
      const body = await request.json()
      standIn.requests.push({ path: url.pathname, headers: request.headers, body })
      switch (standIn.mode) {
        case "error":
          return json(errorBody, 500)
        case "slow":
          await Bun.sleep(standIn.delayMs)
          return respond({ ...standIn, mode: "good" }, body)
        default:
          return respond(standIn, body)
      }
    }
  })
  ;(standIn as { baseUrl: string }).baseUrl = `http://127.0.0.1:${server.port}`
  return standIn
}

/** OpenAI's chat completions: the structured output is the message's content, a JSON string. Base URL: `<baseUrl>/v1`. */
export const openAiStandIn = (answer: Answer = sampleAnswer("openai_says")) =>
  serve(
    (standIn, body) =>
      json({
        id: `chatcmpl-${crypto.randomUUID()}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: standIn.mode === "bad" ? "It is probably a null pointer somewhere in the cart code." : JSON.stringify(standIn.answer),
              refusal: null
            },
            logprobs: null,
            finish_reason: "stop"
          }
        ],
        usage: { prompt_tokens: 200, completion_tokens: 80, total_tokens: 280 }
      }),
    { error: { message: "The server had an error while processing your request.", type: "server_error", param: null, code: null } },
    "/v1/chat/completions",
    answer
  )

/** Anthropic's messages: structured output comes back as the input of the forced tool call. Base URL: `<baseUrl>`. */
export const anthropicStandIn = (answer: Answer = sampleAnswer("anthropic_says")) =>
  serve(
    (standIn, body) =>
      json({
        id: `msg_${crypto.randomUUID().replaceAll("-", "")}`,
        type: "message",
        role: "assistant",
        model: body.model,
        content: [
          {
            type: "tool_use",
            id: `toolu_${crypto.randomUUID().replaceAll("-", "")}`,
            name: body.tool_choice?.name ?? body.tools?.[0]?.name ?? "root_cause_analysis",
            input: standIn.mode === "bad" ? { verdict: "no idea", confidence: "very" } : standIn.answer
          }
        ],
        stop_reason: "tool_use",
        stop_sequence: null,
        usage: { input_tokens: 200, output_tokens: 80 }
      }),
    { type: "error", error: { type: "api_error", message: "Internal server error" } },
    "/v1/messages",
    answer
  )
