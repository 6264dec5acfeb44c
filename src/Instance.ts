import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import * as os from "node:os"
import pkg from "../package.json" with { type: "json" }

/** This running process: how other instances, the leader lock and the status page tell it apart. */
export class Instance extends Effect.Service<Instance>()("bugbots/Instance", {
  sync: () => ({
    id: randomUUID(),
    host: os.hostname(),
    version: pkg.version,
    startedAt: new Date()
  })
}) {}
