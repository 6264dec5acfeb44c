import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { ActionResult, ClaimActions, ForwardedEvent } from "../Domain/BotAction.js"
import { ValidationFailed } from "../Domain/Errors.js"
import { Webhooks } from "../Webhooks/Webhooks.js"
import { BotActions } from "./BotActions.js"

export const BotActionAdminHttp = HttpApiBuilder.group(Api, "botActionAdmin", (handlers) =>
  Effect.gen(function* () {
    const actions = yield* BotActions
    return handlers
      .handle("list", ({ urlParams }) => asPrincipal((p) => actions.list(p, urlParams.status, urlParams.limit, urlParams.cursor)))
      .handle("retry", ({ path }) => asPrincipal((p) => actions.retry(p, path.id)))
  })
)

/** Which events each forwarding route takes. */
const forwarded = {
  installationSync: ["installation", "installation_repositories"],
  pullRequest: ["pull_request", "issue_comment"]
} as const

/** The signature is over the raw body, so each handler reads it (`verified`), then decodes it. */
export const BotActionInternalHttp = HttpApiBuilder.group(Api, "botActionInternal", (handlers) =>
  Effect.gen(function* () {
    const actions = yield* BotActions
    const webhooks = yield* Webhooks
    const forward = (route: keyof typeof forwarded) => ({ request }: { readonly request: Parameters<typeof actions.verified>[0] }) =>
      Effect.gen(function* () {
        const event = yield* actions.verified(request, ForwardedEvent)
        if (!(forwarded[route] as ReadonlyArray<string>).includes(event.event)) {
          return yield* new ValidationFailed({ message: `this route takes ${forwarded[route].join(" and ")} events, not ${event.event}` })
        }
        return yield* webhooks.forward(event.delivery_id, event.event, event.payload)
      })
    return handlers
      .handleRaw("claim", ({ request }) =>
        actions.verified(request, ClaimActions).pipe(
          Effect.flatMap((claim) => actions.claim(claim.limit, claim.lease_seconds)),
          Effect.map((claimed) => ({ actions: claimed }))
        )
      )
      .handleRaw("result", ({ path, request }) =>
        actions.verified(request, ActionResult).pipe(Effect.flatMap((result) => actions.result(path.id, result)))
      )
      .handleRaw("installationSync", forward("installationSync"))
      .handleRaw("pullRequest", forward("pullRequest"))
  })
)
