import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Webhooks } from "./Webhooks.js"

/** The signature is checked on the raw bytes, so the body is read by the handler, not decoded by the API. */
export const WebhooksHttp = HttpApiBuilder.group(Api, "webhooks", (handlers) =>
  Effect.gen(function* () {
    const webhooks = yield* Webhooks
    return handlers.handleRaw("github", ({ request }) => webhooks.receive(request))
  })
)

export const WebhookAdminHttp = HttpApiBuilder.group(Api, "webhookAdmin", (handlers) =>
  Effect.gen(function* () {
    const webhooks = yield* Webhooks
    return handlers
      .handle("list", ({ urlParams }) =>
        asPrincipal((p) => webhooks.list(p, urlParams.status, urlParams.limit, urlParams.cursor))
      )
      .handle("replay", ({ path }) => asPrincipal((p) => webhooks.replay(p, path.id)))
  })
)
