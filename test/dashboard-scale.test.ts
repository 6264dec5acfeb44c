import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import type { Browser } from "playwright-core"
import { browserRequired, chromiumPath, launchChromium } from "./lib/Browser.js"
import { client } from "./lib/Client.js"
import { startService, type TestService } from "./lib/Service.js"

/**
 * A village of 10,000 bugs over five repos and 50 agents at work, in a real Chromium: the page
 * renders a bounded number of rows whatever the size (virtualised lanes), and a burst of live
 * changes is applied in batches per animation frame without long frames.
 */

const bugCount = 10_000
const agentCount = 50
const burst = 500

if (chromiumPath === undefined && !browserRequired) console.log("dashboard scale browser test SKIPPED: no Chromium found")

describe.if(chromiumPath !== undefined || browserRequired)("dashboard at scale", () => {
  let svc: TestService
  let browser: Browser
  let villageId: string
  let villageName: string
  const repoIds: Array<string> = []

  beforeAll(async () => {
    svc = await startService()
    const root = client(svc.baseUrl, svc.rootToken)
    const village = await root.post("/api/villages", { name: `scale-${Date.now().toString(36)}` })
    villageId = village.body.id
    villageName = village.body.name
    for (const name of ["api", "web", "ios", "android", "billing"]) {
      repoIds.push((await root.post(`/api/villages/${villageId}/repos`, { full_name: `scale/${name}` })).body.id)
    }
    // The fixture rows go in as one statement (as bench/rest.ts does); everything after is the real API.
    await svc.sql`
      insert into bug_bots (village_id, repo_id, provider, source, title, status, severity, created_at, updated_at)
      select ${villageId}, (${repoIds}::uuid[])[1 + g % 5], 'manual', 'manual', 'bug ' || g,
             (array['open','triaged','resolved','closed','open'])[1 + (g / 5) % 5]::bug_status,
             (array['critical','high','medium','low'])[1 + g % 4]::bug_severity,
             now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval
      from generate_series(1, ${bugCount}) g`
    const agents = await Promise.all(
      Array.from({ length: agentCount }, (_, i) => root.post(`/api/villages/${villageId}/agents`, { name: `agent-${String(i).padStart(2, "0")}` }))
    )
    for (const agent of agents) {
      expect((await client(svc.baseUrl, agent.body.token).post("/api/agents/claim", { lease_seconds: 600 })).status).toBe(200)
    }
    if (chromiumPath !== undefined) browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await svc?.stop()
  })

  test("10,000 bugs and 50 agents: bounded rows, and a burst of 500 live changes without long frames", async () => {
    if (chromiumPath === undefined) throw new Error("no Chromium found: apt-get install -y chromium, or set CHROMIUM_PATH")
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await page.goto(svc.baseUrl)
    await page.evaluate((token) => localStorage.setItem("bugbots.token", token), svc.rootToken)
    const opened = Date.now()
    await page.goto(`${svc.baseUrl}/#/villages/${villageId}`)
    await page.reload()
    await page.locator(".loading", { hasText: `${bugCount} bugs, ${agentCount} agents` }).waitFor({ timeout: 60_000 })
    const loadMs = Date.now() - opened
    await page.getByRole("heading", { name: villageName }).waitFor()

    const rendered = await page.locator("button.bot").count()
    const working = await page.locator(".agents.here .agent").count()
    expect(working).toBe(agentCount)
    // 5 houses × 7 lanes × (6 rows in view + overscan) at most, not 10,000.
    expect(rendered).toBeLessThan(600)

    // A lane of ~800 bugs scrolled to its end renders its last rows, and still only a few.
    const lane = page.locator(`[data-repo="${repoIds[0]}"] [data-status="open"] .vlist`)
    const laneSize = Number(await page.locator(`[data-repo="${repoIds[0]}"] [data-status="open"] h4 .count`).textContent())
    expect(laneSize).toBeGreaterThan(700)
    await lane.evaluate((element) => (element.scrollTop = element.scrollHeight))
    await page.locator(`[data-repo="${repoIds[0]}"] [data-status="open"] li[aria-posinset="${laneSize}"]`).waitFor()
    expect(await lane.locator("li").count()).toBeLessThan(30)

    // Frames and long tasks while a burst of changes arrives over the village's room.
    await page.evaluate(() => {
      const w = window as unknown as { frames_: Array<number>; longTasks: Array<number>; recording: boolean }
      w.frames_ = []
      w.longTasks = []
      w.recording = true
      new PerformanceObserver((list) => list.getEntries().forEach((entry) => w.longTasks.push(entry.duration))).observe({ type: "longtask" })
      const tick = (time: number) => {
        w.frames_.push(time)
        if (w.recording) requestAnimationFrame(tick)
      }
      requestAnimationFrame(tick)
    })
    const openBugs: Array<{ id: string }> = await svc.sql`
      select id from bug_bots where village_id = ${villageId} and status = 'open' order by created_at desc limit ${burst}`
    const [{ triagedBefore }] = await svc.sql`
      select count(*)::int as "triagedBefore" from bug_bots where village_id = ${villageId} and status = 'triaged'`
    const root = client(svc.baseUrl, svc.rootToken)
    // The page's own work over the burst, from Chromium's metrics: main-thread CPU time (not wall
    // time, which the service and PostgreSQL on the same cores would inflate), and its parts.
    const cdp = await page.context().newCDPSession(page)
    await cdp.send("Performance.enable")
    const pageMetrics = async () => {
      const { metrics } = await cdp.send("Performance.getMetrics")
      const value = (name: string) => metrics.find((metric) => metric.name === name)?.value ?? 0
      return { cpu: value("ThreadTime"), script: value("ScriptDuration"), layout: value("LayoutDuration"), style: value("RecalcStyleDuration"), layouts: value("LayoutCount") }
    }
    const metricsBefore = await pageMetrics()
    const sent = Date.now()
    const queue = [...openBugs]
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let bug = queue.pop(); bug !== undefined; bug = queue.pop()) {
          expect((await root.put(`/api/bugs/${bug.id}/status`, { status: "triaged" })).status).toBe(200)
        }
      })
    )
    await page.waitForFunction(
      (expected) =>
        Array.from(document.querySelectorAll('[data-status="triaged"] h4 .count')).reduce((sum, count) => sum + Number(count.textContent), 0) === expected,
      triagedBefore + burst,
      { timeout: 30_000, polling: 50 }
    )
    const appliedMs = Date.now() - sent
    const metricsAfter = await pageMetrics()
    const spent = (key: "cpu" | "script" | "layout" | "style") => (metricsAfter[key] - metricsBefore[key]) * 1000
    const { frames, longTasks } = await page.evaluate(() => {
      const w = window as unknown as { frames_: Array<number>; longTasks: Array<number>; recording: boolean }
      w.recording = false
      return { frames: w.frames_, longTasks: w.longTasks }
    })
    const gaps = frames.slice(1).map((time, i) => time - frames[i]).sort((a, b) => a - b)
    const p95 = gaps[Math.floor(gaps.length * 0.95)] ?? 0
    const longest = gaps[gaps.length - 1] ?? 0
    console.log(
      `dashboard at scale: ${bugCount} bugs and ${agentCount} agents loaded in ${loadMs} ms; ${rendered} bug rows rendered; ` +
        `${burst} changes over REST shown after ${appliedMs} ms, costing the page ${spent("cpu").toFixed(0)} ms of main-thread CPU ` +
        `(${(spent("cpu") / burst).toFixed(2)} ms a change; script ${spent("script").toFixed(0)} ms, style ${spent("style").toFixed(0)} ms, ` +
        `layout ${spent("layout").toFixed(0)} ms in ${metricsAfter.layouts - metricsBefore.layouts} layouts); frames during the burst: ${gaps.length}, p95 ${p95.toFixed(1)} ms, ` +
        `longest ${longest.toFixed(1)} ms; long tasks ${longTasks.length}, longest ${Math.max(0, ...longTasks).toFixed(0)} ms`
    )
    // Bounds loose enough for two shared cores, tight enough that rendering every row would break them.
    expect(spent("cpu") / burst).toBeLessThan(10)
    expect(longest).toBeLessThan(1000)
    await page.close()
  }, 120_000)
})
