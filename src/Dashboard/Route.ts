import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { buildDashboard, dashboardDir, isBuilt, isFresh } from "./Build.js"

/**
 * The page allows only its own script, stylesheet and connections (REST and `/ws` on this origin):
 * no inline script or style, no other origin, no frames, no plugins, no form posts elsewhere.
 */
export const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'"
].join("; ")

const pageHeaders = {
  "content-security-policy": contentSecurityPolicy,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-cache"
}

const indexHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>bugbots village</title>
<link rel="stylesheet" href="/dashboard/app.css">
<script type="module" src="/dashboard/app.js"></script>
</head>
<body>
<div id="app"><noscript>The bugbots dashboard needs JavaScript; the REST API is described at <a href="/docs">/docs</a>.</noscript></div>
</body>
</html>
`

/**
 * `GET /`: the live village dashboard (`page/`), served from memory on the service's own port. The
 * bundle is built here when `dist/dashboard` lacks it or is older than its sources, so `bun run start`
 * and the tests need no step.
 */
export const DashboardRoutes = Layer.unwrapEffect(
  Effect.gen(function* () {
    if (!isFresh()) {
      yield* Effect.logInfo("building the dashboard (dist/dashboard is missing or older than its sources)")
      // The API does not depend on the page: a build that fails (a read-only checkout) leaves the
      // previous build in service, or none.
      yield* Effect.tryPromise(() => buildDashboard()).pipe(
        Effect.catchAll((error) => Effect.logError("the dashboard could not be built; run `bun run build`", error.cause))
      )
    }
    if (!isBuilt()) {
      const unavailable = Effect.succeed(
        // In the contract's envelope (RequestMiddleware renders the tag as SERVICE_UNAVAILABLE).
        HttpServerResponse.unsafeJson({ _tag: "ServiceUnavailable", message: "the dashboard is not built: run `bun run build` and restart the service" }, { status: 503 })
      )
      return HttpLayerRouter.addAll([HttpLayerRouter.route("GET", "/", unavailable), HttpLayerRouter.route("GET", "/dashboard/*", unavailable)])
    }
    const read = (asset: string) => fs.readFileSync(path.join(dashboardDir, asset))
    const asset = (body: Uint8Array, contentType: string) =>
      Effect.succeed(HttpServerResponse.uint8Array(body, { contentType, headers: pageHeaders }))
    const script = read("app.js")
    const styles = read("app.css")
    return HttpLayerRouter.addAll([
      HttpLayerRouter.route("GET", "/", Effect.succeed(HttpServerResponse.text(indexHtml, { contentType: "text/html; charset=utf-8", headers: pageHeaders }))),
      HttpLayerRouter.route("GET", "/dashboard/app.js", asset(script, "text/javascript; charset=utf-8")),
      HttpLayerRouter.route("GET", "/dashboard/app.css", asset(styles, "text/css; charset=utf-8"))
    ])
  })
)
