import * as fs from "node:fs"
import * as path from "node:path"

/**
 * The dashboard's bundle: `page/main.tsx` (Preact, plain TypeScript) and its CSS through Bun's own
 * bundler into `dist/dashboard` (git-ignored). `bun run build` runs this file; the service builds
 * it at start-up when it is missing or older than its sources (`Route.ts`), so a fresh clone (or a
 * pull) needs no extra step.
 */

const pageDir = path.resolve(import.meta.dir, "page")
export const dashboardDir = path.resolve(import.meta.dir, "../../dist/dashboard")
export const dashboardAssets = ["app.js", "app.css"] as const

export const isBuilt = (dir = dashboardDir) => dashboardAssets.every((asset) => fs.existsSync(path.join(dir, asset)))

const newestSource = () =>
  Math.max(
    ...fs.readdirSync(pageDir).map((file) => fs.statSync(path.join(pageDir, file)).mtimeMs),
    // A changed Preact (bun install) changes the bundle too.
    fs.statSync(path.resolve(import.meta.dir, "../../bun.lock")).mtimeMs
  )

/** Built, and from the sources as they are (a checkout or a pull after the last build makes it stale). */
export const isFresh = (dir = dashboardDir) =>
  isBuilt(dir) && Math.min(...dashboardAssets.map((asset) => fs.statSync(path.join(dir, asset)).mtimeMs)) >= newestSource()

/**
 * Builds into a directory of its own and renames it into place, so a service starting meanwhile
 * (tests start several at once) never reads half a build.
 */
export const buildDashboard = async (dir = dashboardDir) => {
  const staging = `${dir}.build-${process.pid}-${Date.now()}`
  const result = await Bun.build({
    entrypoints: [path.join(pageDir, "main.tsx")],
    outdir: staging,
    target: "browser",
    minify: true,
    naming: { entry: "app.[ext]", asset: "[name].[ext]" }
  })
  if (!result.success) {
    fs.rmSync(staging, { recursive: true, force: true })
    throw new AggregateError(result.logs, `the dashboard did not build: ${result.logs.map(String).join("; ")}`)
  }
  const previous = `${dir}.old-${process.pid}-${Date.now()}`
  fs.mkdirSync(path.dirname(dir), { recursive: true })
  if (fs.existsSync(dir)) fs.renameSync(dir, previous)
  try {
    fs.renameSync(staging, dir)
  } catch (error) {
    // Another process put its build in place first: theirs is as good as ours.
    if (!isBuilt(dir)) throw error
  }
  fs.rmSync(previous, { recursive: true, force: true })
  fs.rmSync(staging, { recursive: true, force: true })
  return result.outputs.map((output) => path.basename(output.path))
}

if (import.meta.main) {
  const started = performance.now()
  const files = await buildDashboard()
  console.log(`dashboard built in ${Math.round(performance.now() - started)} ms: ${files.join(", ")} in ${path.relative(process.cwd(), dashboardDir)}`)
}
