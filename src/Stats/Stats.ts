import { Effect, Schema } from "effect"
import { authorize } from "../Auth/Policy.js"
import type { Principal } from "../Auth/Principal.js"
import { Bugs } from "../Bugs/Bugs.js"
import type { VillageId } from "../Domain/Ids.js"
import { VillageStats } from "../Domain/Operations.js"
import { Reports } from "../Reports/Reports.js"
import { Villages } from "../Villages/Villages.js"

const topCount = 10
const zeroStatuses = { open: 0, triaged: 0, assigned: 0, in_progress: 0, awaiting_verification: 0, resolved: 0, closed: 0 }
const zeroSeverities = { critical: 0, high: 0, medium: 0, low: 0, none: 0 }
const decodeStats = Schema.decodeUnknown(VillageStats)

/**
 * `GET /api/villages/{id}/stats` (contract §12), from the owners of the rows: `Bugs` counts the
 * bugs, `Reports` the occurrences of the village's repos (which `Villages` names).
 */
export class Stats extends Effect.Service<Stats>()("bugbots/Stats", {
  effect: Effect.gen(function* () {
    const bugs = yield* Bugs
    const reports = yield* Reports
    const villages = yield* Villages

    const village = Effect.fn("Stats.village")(function* (principal: Principal, id: VillageId) {
      yield* authorize(principal, "read", { villageId: id, resource: "village", resourceId: id })
      yield* villages.find(id)
      const [counts, top] = yield* Effect.all(
        [bugs.stats(id), villages.repoIdsOf(id).pipe(Effect.flatMap((repos) => reports.topFingerprints(repos, topCount)))],
        { concurrency: 2 }
      )
      const titles = yield* bugs.titles(top.map((t) => t.bug_id))
      return yield* decodeStats({
        ...counts,
        by_status: { ...zeroStatuses, ...(counts.by_status as object) },
        by_severity: { ...zeroSeverities, ...(counts.by_severity as object) },
        top_fingerprints: top.map((t) => ({ ...t, title: titles.get(t.bug_id) ?? "" }))
      }).pipe(Effect.orDie)
    })

    return { village } as const
  }),
  dependencies: [Bugs.Default, Reports.Default, Villages.Default]
}) {}
