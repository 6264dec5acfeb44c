import { AiError, LanguageModel, Prompt, Tool } from "@effect/ai"
import { AnthropicClient, AnthropicLanguageModel } from "@effect/ai-anthropic"
import { OpenAiClient } from "@effect/ai-openai"
import { FetchHttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Effect, Layer, Option, Schema, Stream } from "effect"
import type { AppConfig } from "../Config.js"
import type { AiProvider } from "../Domain/Analysis.js"

/** A model provider as configured: its name, its model, and the `LanguageModel` that speaks to it. */
export interface ModelProvider {
  readonly name: Exclude<AiProvider, "heuristic">
  readonly model: string
  readonly layer: Layer.Layer<LanguageModel.LanguageModel>
}

const module = "bugbots/Analyses"

/** An OpenAI-compatible chat-completions answer, read leniently (compatible servers leave out fields OpenAI sends). */
const ChatCompletion = Schema.Struct({
  choices: Schema.NonEmptyArray(
    Schema.Struct({
      message: Schema.Struct({
        content: Schema.optional(Schema.NullOr(Schema.String)),
        refusal: Schema.optional(Schema.NullOr(Schema.String))
      })
    })
  )
})

/** The prompt's text as chat messages (analyses send system and user text only). */
const chatMessages = (prompt: Prompt.Prompt) =>
  prompt.content.map((message) => ({
    role: message.role,
    content:
      typeof message.content === "string"
        ? message.content
        : message.content.flatMap((part) => (part.type === "text" ? [part.text] : [])).join("\n")
  }))

/**
 * A `LanguageModel` over OpenAI's chat completions (`POST {base}/chat/completions`), the API every
 * OpenAI-compatible server speaks (OpenAI itself, Azure, vLLM, Ollama, LiteLLM, OpenRouter…);
 * `@effect/ai-openai`'s own model speaks the newer Responses API, which most of them do not. The
 * client (base URL, bearer key) is `@effect/ai-openai`'s; structured output is asked with a strict
 * `json_schema` response format, and `LanguageModel.generateObject` decodes the answer.
 */
const openAiChatModel = (model: string) =>
  Effect.gen(function* () {
    const { client } = yield* OpenAiClient.OpenAiClient
    const complete = (options: LanguageModel.ProviderOptions) =>
      HttpClientRequest.post("/chat/completions").pipe(
        HttpClientRequest.bodyUnsafeJson({
          model,
          messages: chatMessages(options.prompt),
          ...(options.responseFormat.type === "json"
            ? {
                response_format: {
                  type: "json_schema",
                  json_schema: {
                    name: options.responseFormat.objectName,
                    schema: Tool.getJsonSchemaFromSchemaAst(options.responseFormat.schema.ast),
                    strict: true
                  }
                }
              }
            : {})
        }),
        client.httpClient.execute,
        Effect.flatMap(HttpClientResponse.filterStatusOk),
        Effect.flatMap(HttpClientResponse.schemaBodyJson(ChatCompletion)),
        Effect.scoped,
        Effect.catchTags({
          RequestError: (error) => AiError.HttpRequestError.fromRequestError({ module, method: "chatCompletion", error }),
          ResponseError: (error) => AiError.HttpResponseError.fromResponseError({ module, method: "chatCompletion", error }),
          ParseError: (error) => AiError.MalformedOutput.fromParseError({ module, method: "chatCompletion", error })
        }),
        Effect.flatMap(({ choices: [choice] }) =>
          typeof choice.message.content === "string"
            ? Effect.succeed(choice.message.content)
            : new AiError.MalformedOutput({
                module,
                method: "chatCompletion",
                description: choice.message.refusal ? `the model refused: ${choice.message.refusal}` : "the answer has no content"
              })
        )
      )
    return yield* LanguageModel.make({
      generateText: (options) => Effect.map(complete(options), (text) => [{ type: "text" as const, text }]),
      streamText: (options) =>
        Stream.fromIterableEffect(
          Effect.map(complete(options), (text) => [
            { type: "text-start" as const, id: "0" },
            { type: "text-delta" as const, id: "0", delta: text },
            { type: "text-end" as const, id: "0" }
          ])
        )
    })
  })

type Settings = AppConfig["openai"]

/** A provider takes part once it has a key or a base URL (a local OpenAI-compatible server may need no key). */
const configured = (settings: Settings) => Option.isSome(settings.apiKey) || Option.isSome(settings.baseUrl)

const openAi = (settings: Settings): ModelProvider => ({
  name: "openai",
  model: settings.model,
  layer: Layer.effect(LanguageModel.LanguageModel, openAiChatModel(settings.model)).pipe(
    Layer.provide(
      OpenAiClient.layer({ apiKey: Option.getOrUndefined(settings.apiKey), apiUrl: Option.getOrUndefined(settings.baseUrl) })
    ),
    Layer.provide(FetchHttpClient.layer)
  )
})

const anthropic = (settings: Settings): ModelProvider => ({
  name: "anthropic",
  model: settings.model,
  layer: AnthropicLanguageModel.layer({ model: settings.model, config: { max_tokens: 4096 } }).pipe(
    Layer.provide(
      AnthropicClient.layer({ apiKey: Option.getOrUndefined(settings.apiKey), apiUrl: Option.getOrUndefined(settings.baseUrl) })
    ),
    Layer.provide(FetchHttpClient.layer)
  )
})

/** The model providers to try, in `BUGBOTS_AI_PROVIDERS` order, leaving out those not configured (the heuristic follows them). */
export const modelProviders = (config: Pick<AppConfig, "aiProviders" | "openai" | "anthropic">): ReadonlyArray<ModelProvider> =>
  config.aiProviders.flatMap((name) =>
    name === "openai" && configured(config.openai)
      ? [openAi(config.openai)]
      : name === "anthropic" && configured(config.anthropic)
      ? [anthropic(config.anthropic)]
      : []
  )

