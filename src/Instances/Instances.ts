import { SqlClient } from "@effect/sql"
import { Duration, Effect, Schedule } from "effect"
import { AppConfig } from "../Config.js"
import { Instance } from "../Instance.js"
import type { InstanceId } from "../Domain/Ids.js"
import { InstanceStatus } from "../Domain/Operations.js"
import { wsConnections } from "../Metrics/Series.js"
import { decodeJsonRows, iso, jsonObject } from "../Sql/Json.js"
import { withDb } from "../Sql/Retry.js"

const decodeInstances = decodeJsonRows(InstanceStatus)

/**
 * The one owner of `instances`: each running instance heartbeats its row (id, host, pid, version,
 * start time, its /ws connections) every `BUGBOTS_INSTANCE_HEARTBEAT`, and marks it stopped when it
 * stops gracefully. A row silent for 3 intervals is shown as gone (a crashed instance); rows gone
 * for a day are deleted.
 */
export class Instances extends Effect.Service<Instances>()("bugbots/Instances", {
  scoped: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const config = yield* AppConfig
    const instance = yield* Instance
    const id = instance.id as InstanceId
    const interval = Duration.toSeconds(config.instanceHeartbeat)
    const connections = () => Math.round(wsConnections.unsafeValue([]).value)

    const beat = Effect.suspend(() =>
      sql`
        insert into instances (id, host, pid, version, started_at, heartbeat_at, ws_connections)
        values (${id}, ${instance.host}, ${process.pid}, ${instance.version}, ${instance.startedAt}, now(), ${connections()})
        on conflict (id) do update set heartbeat_at = now(), ws_connections = excluded.ws_connections`
    )
    const prune = sql`delete from instances where heartbeat_at < now() - interval '1 day'`

    yield* beat.pipe(Effect.zipRight(prune), withDb)
    yield* beat.pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("instance heartbeat failed", cause)),
      Effect.repeat(Schedule.spaced(config.instanceHeartbeat)),
      Effect.interruptible,
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() =>
      sql`update instances set stopped_at = now(), ws_connections = 0 where id = ${id}`.pipe(
        Effect.timeout("2 seconds"),
        Effect.catchAllCause((cause) => Effect.logWarning("marking this instance stopped failed", cause))
      )
    )

    const render = jsonObject("i", [
      "id", "host", "pid", "version", ["started_at", iso("i.started_at")], ["heartbeat_at", iso("i.heartbeat_at")],
      ["stopped_at", iso("i.stopped_at")],
      ["state", `case when i.stopped_at is null and i.heartbeat_at > now() - make_interval(secs => ${3 * interval}) then 'live' else 'gone' end`],
      ["ws_connections", "case when i.stopped_at is null then i.ws_connections else 0 end"]
    ])

    /** Every instance heard of in the last day, oldest first. */
    const list = sql<{ json: string }>`select ${sql.literal(render)}::text as json from instances i order by i.started_at, i.id`.pipe(
      Effect.flatMap(decodeInstances),
      withDb
    )

    return { id, list, connections } as const
  }),
  dependencies: [Instance.Default]
}) {}
