import { DateTime, Effect, Option } from "effect"
import type { InstanceId } from "../Domain/Ids.js"
import { requireSuperuser } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { Bugs } from "../Bugs/Bugs.js"
import { AdminStatus, QueueStatus } from "../Domain/Operations.js"
import { Instances } from "../Instances/Instances.js"
import { Jobs } from "../Jobs/Jobs.js"
import { Leader } from "../Leader/Leader.js"
import { type LastRun, Reconciler } from "../Reconciler/Reconciler.js"
import { queueKinds, queues } from "../Jobs/Queues.js"
import { decodeJsonRows } from "../Sql/Json.js"
import { withDb } from "../Sql/Retry.js"

const decodeQueues = decodeJsonRows(QueueStatus)

const leaderRun = (run: LastRun) => ({
  id: run.id,
  started_at: DateTime.unsafeFromDate(run.started_at),
  finished_at: run.finished_at === null ? null : DateTime.unsafeFromDate(run.finished_at),
  status: run.status
})

/** `GET /api/admin/status` (contract §12): assembled from the owners of jobs, bugs and instances. */
export class Status extends Effect.Service<Status>()("bugbots/Status", {
  effect: Effect.gen(function* () {
    const jobs = yield* Jobs
    const bugs = yield* Bugs
    const instances = yield* Instances
    const leader = yield* Leader
    const reconciler = yield* Reconciler

    const admin = Effect.fn("Status.admin")(function* (principal: Principal) {
      yield* requireSuperuser(principal, "read the admin status")
      const [queueRows, bugLeases, known, lead, last] = yield* Effect.all(
        [jobs.queueStats(queueKinds).pipe(withDb), bugs.leasesActive.pipe(withDb), instances.list, leader.current.pipe(withDb), reconciler.lastRuns.pipe(withDb)],
        { concurrency: 5 }
      )
      const stats = yield* decodeQueues(
        queueRows.map((row, i) => {
          const parsed = JSON.parse(row.json) as Record<string, unknown>
          return { json: JSON.stringify({ ...parsed, queue: queues[i].queue }) }
        })
      )
      return new AdminStatus({
        generated_at: DateTime.unsafeNow(),
        instance_id: instances.id,
        queues: stats,
        bug_leases_active: bugLeases,
        instances: known,
        leader: Option.getOrNull(Option.map(lead, (l) => ({ instance_id: l.instance_id as InstanceId, since: DateTime.unsafeFromDate(l.since) }))),
        last_reconcile: Option.getOrNull(Option.map(last.reconcile, leaderRun)),
        last_recovery: Option.getOrNull(Option.map(last.recovery, leaderRun)),
        ws_connections: {
          this_instance: instances.connections(),
          live_instances: known.filter((i) => i.state === "live").reduce((n, i) => n + i.ws_connections, 0)
        }
      })
    })

    return { admin } as const
  }),
  dependencies: [Jobs.Default, Bugs.Default, Instances.Default, Leader.Default, Reconciler.Default]
}) {}
