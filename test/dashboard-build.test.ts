import { expect, test } from "bun:test"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { buildDashboard, dashboardAssets, isBuilt, isFresh } from "../src/Dashboard/Build.js"

/** `bun run build` and the service's build on demand: Bun's bundler, nothing fetched from elsewhere. */

test("the dashboard builds into its directory, self-contained, and is stale once older than its sources", async () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bugbots-dashboard-")), "dashboard")
  try {
    expect(isBuilt(dir)).toBe(false)
    const files = await buildDashboard(dir)
    expect(files.sort()).toEqual([...dashboardAssets].sort())
    expect(isFresh(dir)).toBe(true)
    const script = fs.readFileSync(path.join(dir, "app.js"), "utf8")
    // One file: the page's code with Preact inside, no module left to fetch, and no address but
    // XML namespaces, so it works offline.
    expect(script).toContain("bugbots.token")
    expect(script).not.toMatch(/(^|[;}])\s*import[\s{*"']|\bimport\s*\(/m)
    const urls = [...script.matchAll(/https?:\/\/[^\s"'`)]+/g)].map((match) => match[0])
    expect(urls.filter((url) => !url.startsWith("http://www.w3.org/"))).toEqual([])
    expect(fs.readFileSync(path.join(dir, "app.css"), "utf8")).not.toMatch(/@import|url\(https?:/)
    // No leftovers of the staging directories beside it.
    expect(fs.readdirSync(path.dirname(dir))).toEqual(["dashboard"])

    const past = new Date(Date.now() - 365 * 24 * 3600 * 1000)
    fs.utimesSync(path.join(dir, "app.js"), past, past)
    expect(isFresh(dir)).toBe(false)
    await buildDashboard(dir)
    expect(isFresh(dir)).toBe(true)
  } finally {
    fs.rmSync(path.dirname(dir), { recursive: true, force: true })
  }
})
