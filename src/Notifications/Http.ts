import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Notifications } from "./Notifications.js"

export const NotificationChannelsHttp = HttpApiBuilder.group(Api, "notificationChannels", (handlers) =>
  Effect.gen(function* () {
    const notifications = yield* Notifications
    return handlers
      .handle("create", ({ path, payload }) => asPrincipal((p) => notifications.create(p, path.id, payload)))
      .handle("list", ({ path, urlParams }) => asPrincipal((p) => notifications.list(p, path.id, urlParams.limit, urlParams.cursor)))
      .handle("delete", ({ path }) => asPrincipal((p) => notifications.remove(p, path.id, path.channel_id)))
  })
)

export const NotificationAdminHttp = HttpApiBuilder.group(Api, "notificationAdmin", (handlers) =>
  Effect.gen(function* () {
    const notifications = yield* Notifications
    return handlers
      .handle("list", ({ urlParams }) => asPrincipal((p) => notifications.deliveries(p, urlParams.status, urlParams.limit, urlParams.cursor)))
      .handle("retry", ({ path }) => asPrincipal((p) => notifications.retry(p, path.id)))
  })
)
