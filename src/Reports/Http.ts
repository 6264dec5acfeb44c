import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "../Api.js"
import { bearerToken } from "../Auth/Bearer.js"
import { asPrincipal } from "../Auth/Principal.js"
import { jsonResponse } from "../Http/Raw.js"
import { Reports } from "./Reports.js"

/** The request's own address, for the DSN of a new key when BUGBOTS_PUBLIC_URL is unset. */
const baseOf = (url: string, host: string | undefined, forwardedProto: string | undefined) =>
  `${forwardedProto ?? (url.startsWith("https:") ? "https" : "http")}://${host ?? "localhost"}`

export const ReportsHttp = HttpApiBuilder.group(Api, "reports", (handlers) =>
  Effect.gen(function* () {
    const reports = yield* Reports
    return handlers
      .handle("createKey", ({ path, payload, request }) =>
        asPrincipal((p) => reports.createKey(p, path.id, payload.name, baseOf(request.url, request.headers.host, request.headers["x-forwarded-proto"])))
      )
      .handle("listKeys", ({ path }) => asPrincipal((p) => reports.listKeys(p, path.id)).pipe(Effect.map((items) => ({ items, next_cursor: null }))))
      .handle("revokeKey", ({ path }) => asPrincipal((p) => reports.revokeKey(p, path.id, path.key_id)))
      .handle("occurrences", ({ path, urlParams }) => asPrincipal((p) => reports.occurrences(p, path.id, urlParams.limit, urlParams.cursor)))
      .handle("grouping", ({ path }) => asPrincipal((p) => reports.grouping(p, path.id)))
      .handle("merge", ({ path, payload }) => asPrincipal((p) => reports.merge(p, path.id, payload.into)).pipe(Effect.map((json) => jsonResponse(json))))
      .handle("unmerge", ({ path, payload }) =>
        asPrincipal((p) => reports.unmerge(p, path.id, payload.fingerprint)).pipe(Effect.map((json) => jsonResponse(json, 201)))
      )
  })
)

export const ReportIngestHttp = HttpApiBuilder.group(Api, "reportIngest", (handlers) =>
  Effect.gen(function* () {
    const reports = yield* Reports
    return handlers.handle("report", ({ payload, request }) => reports.report(bearerToken(request.headers.authorization) ?? "", payload))
  })
)
