import { deliveryKind } from "../Webhooks/Webhooks.js"

/**
 * The queues operators watch (contract §12), each a job kind of the one jobs table. Kinds whose
 * capability is not built yet simply have no rows: they show zeros until it lands.
 */
export const queues = [
  { queue: "webhook_deliveries", kind: deliveryKind },
  { queue: "bot_actions", kind: "github.action" },
  { queue: "analyses", kind: "analysis" },
  { queue: "notifications", kind: "notification" }
] as const

export const queueKinds = queues.map((q) => q.kind)
