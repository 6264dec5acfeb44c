import { HttpApiBuilder } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { ServiceUnavailable } from "../Domain/Errors.js"
import { pendingMigrations } from "../Sql/Sql.js"

const ready = { status: "ok", database: "ok", migrations: "ok" } as const

export const HealthHttp = HttpApiBuilder.group(Api, "health", (handlers) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const readiness = pendingMigrations.pipe(
      Effect.provideService(SqlClient.SqlClient, sql),
      Effect.timeout("2 seconds"),
      Effect.mapError(() => new ServiceUnavailable({ message: "database unreachable" })),
      Effect.filterOrFail(
        (pending) => pending === 0,
        (pending) => new ServiceUnavailable({ message: `${pending} migrations not applied yet` })
      ),
      Effect.as(ready)
    )
    return handlers.handle("healthz", () => Effect.succeed({ status: "ok" as const })).handle("readyz", () => readiness)
  })
)
