import { DateTime, Effect, Schema } from "effect"
import { requireSuperuser } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { Bugs } from "../Bugs/Bugs.js"
import { AdminStatus, QueueStatus } from "../Domain/Operations.js"
import { Instances } from "../Instances/Instances.js"
import { Jobs } from "../Jobs/Jobs.js"
import { queueKinds, queues } from "../Jobs/Queues.js"
import { decodeJsonRows } from "../Sql/Json.js"
import { withDb } from "../Sql/Retry.js"

/** A queue's figures as the jobs engine gives them, by kind (the queue's name is ours). */
const decodeKindStats = decodeJsonRows(Schema.Struct(QueueStatus.fields).pipe(Schema.omit("queue")))

/** `GET /api/admin/status` (contract §12): assembled from the owners of jobs, bugs and instances. */
export class Status extends Effect.Service<Status>()("bugbots/Status", {
  effect: Effect.gen(function* () {
    const jobs = yield* Jobs
    const bugs = yield* Bugs
    const instances = yield* Instances

    const admin = Effect.fn("Status.admin")(function* (principal: Principal) {
      yield* requireSuperuser(principal, "read the admin status")
      const [queueRows, bugLeases, known] = yield* Effect.all(
        [jobs.queueStats(queueKinds).pipe(withDb), bugs.leasesActive.pipe(withDb), instances.list],
        { concurrency: 3 }
      )
      const stats = (yield* decodeKindStats(queueRows)).map((kind, i) => new QueueStatus({ ...kind, queue: queues[i].queue }))
      return new AdminStatus({
        generated_at: DateTime.unsafeNow(),
        instance_id: instances.id,
        queues: stats,
        bug_leases_active: bugLeases,
        instances: known,
        leader: null,
        last_reconcile: null,
        last_recovery: null,
        ws_connections: {
          this_instance: instances.connections(),
          live_instances: known.filter((i) => i.state === "live").reduce((n, i) => n + i.ws_connections, 0)
        }
      })
    })

    return { admin } as const
  }),
  dependencies: [Jobs.Default, Bugs.Default, Instances.Default]
}) {}
