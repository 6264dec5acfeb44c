import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { asPrincipal } from "../Auth/Principal.js"
import { Reconciler } from "./Reconciler.js"

export const ReconcileHttp = HttpApiBuilder.group(Api, "reconcile", (handlers) =>
  Effect.gen(function* () {
    const reconciler = yield* Reconciler
    return handlers
      .handle("run", ({ path, payload }) => asPrincipal((p) => reconciler.reconcileNow(p, path.id, payload.dry_run)))
      .handle("runs", ({ path, urlParams }) => asPrincipal((p) => reconciler.runs(p, path.id, urlParams.limit, urlParams.cursor)))
      .handle("recover", ({ payload }) => asPrincipal((p) => reconciler.recoverNow(p, payload.dry_run)))
  })
)
