import { analysisKind } from "../Analyses/FollowUp.js"
import { deliveryKind as notificationKind } from "../Notifications/FollowUp.js"
import { actionKind } from "../BotActions/BotActions.js"
import { deliveryKind } from "../Webhooks/Webhooks.js"

/** The queues operators watch (contract §12), each a job kind of the one jobs table. */
export const queues = [
  { queue: "webhook_deliveries", kind: deliveryKind },
  { queue: "bot_actions", kind: actionKind },
  { queue: "analyses", kind: analysisKind },
  { queue: "notifications", kind: notificationKind }
] as const

export const queueKinds = queues.map((q) => q.kind)
