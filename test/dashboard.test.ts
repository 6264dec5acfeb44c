import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as fs from "node:fs"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { type ChildService, restartablePort, spawnService } from "./lib/Child.js"
import { artifactsDir, browserRequired, chromiumPath, launchChromium, untilText } from "./lib/Browser.js"
import { client, type Client } from "./lib/Client.js"
import { freshDatabase } from "./lib/Service.js"

/**
 * The dashboard in a real Chromium against the real service (a child process on a fixed port, so
 * that it can be killed and started again where the page left it) and a real PostgreSQL.
 */

if (chromiumPath === undefined) {
  if (browserRequired) {
    test("a Chromium for the dashboard's browser tests (BUGBOTS_REQUIRE_BROWSER=1)", () => {
      throw new Error("no Chromium found: apt-get install -y chromium, or set CHROMIUM_PATH")
    })
  } else {
    console.log("dashboard browser tests SKIPPED: no Chromium found (apt-get install -y chromium, or set CHROMIUM_PATH)")
  }
}

let counter = 0
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`

describe.if(chromiumPath !== undefined)("dashboard in Chromium", () => {
  let databaseUrl: string
  let svc: ChildService
  let other: ChildService
  let browser: Browser
  let root: Client
  const port = restartablePort()
  let village: { id: string; name: string }
  let repo: { id: string; full_name: string }
  let otherRepo: { id: string; full_name: string }
  let agent: { id: string; name: string; token: string }
  let triager: { id: string; token: string }
  let operator: { id: string; token: string }

  const makeUser = async (role: string) => {
    const user = await root.post("/api/users", { login: unique(role) })
    expect(user.status).toBe(201)
    const token = await root.post(`/api/users/${user.body.id}/tokens`, { name: "browser" })
    expect(token.status).toBe(201)
    expect((await root.put(`/api/villages/${village.id}/members/${user.body.id}`, { role })).status).toBe(200)
    return { id: user.body.id as string, token: token.body.token as string }
  }

  const makeBug = async (fields: Record<string, unknown> = {}) => {
    const bug = await root.post(`/api/villages/${village.id}/bugs`, { repo_id: repo.id, title: unique("bug"), ...fields })
    expect(bug.status).toBe(201)
    return bug.body as { id: string; title: string; version: number }
  }

  /** A page signed in with `token` through the sign-in form. */
  const signedIn = async (token: string): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    page.on("pageerror", (error) => console.error("page error:", error))
    await page.goto(svc.baseUrl)
    await page.getByLabel("API token").fill(token)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.getByRole("heading", { name: "Villages" }).waitFor()
    return { context, page }
  }

  const openVillage = async (page: Page) => {
    await page.getByRole("link", { name: village.name }).click()
    await page.locator(`[data-repo="${repo.id}"]`).waitFor()
    await page.locator('[data-connection="live"]').waitFor()
    await untilText(page.locator(".loading"), "bugs,")
  }

  const bugOnHouse = (page: Page, bugId: string, status: string) => page.locator(`[data-repo="${repo.id}"] [data-status="${status}"] [data-bug="${bugId}"]`)

  beforeAll(async () => {
    fs.mkdirSync(artifactsDir, { recursive: true })
    databaseUrl = (await freshDatabase()).url
    svc = spawnService(databaseUrl, {}, { port })
    await svc.ready(60_000)
    root = client(svc.baseUrl, svc.rootToken)
    const created = await root.post("/api/villages", { name: unique("village") })
    expect(created.status).toBe(201)
    village = created.body
    repo = (await root.post(`/api/villages/${village.id}/repos`, { full_name: `acme/${unique("api")}` })).body
    otherRepo = (await root.post(`/api/villages/${village.id}/repos`, { full_name: `acme/${unique("web")}` })).body
    const madeAgent = await root.post(`/api/villages/${village.id}/agents`, { name: unique("fixer") })
    expect(madeAgent.status).toBe(201)
    agent = { id: madeAgent.body.agent.id, name: madeAgent.body.agent.name, token: madeAgent.body.token }
    triager = await makeUser("triager")
    operator = await makeUser("operator")
    await makeBug({ severity: "high" })
    await root.post(`/api/villages/${village.id}/bugs`, { repo_id: otherRepo.id, title: "checkout fails on empty cart", severity: "critical" })
    browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await other?.kill()
    await svc?.kill()
  })

  test("GET / is the page under a strict Content-Security-Policy", async () => {
    const page = await fetch(`${svc.baseUrl}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toContain("text/html")
    const csp = page.headers.get("content-security-policy") ?? ""
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain("unsafe-inline")
    const html = await page.text()
    expect(html).not.toMatch(/<script>|style=/)
    const script = await fetch(`${svc.baseUrl}/dashboard/app.js`)
    expect(script.status).toBe(200)
    expect(script.headers.get("content-type")).toContain("javascript")
  })

  test("signing in: a wrong token is refused in words; a good one is kept and survives a reload", async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const violations: Array<string> = []
    page.on("console", (message) => message.text().includes("Content Security Policy") && violations.push(message.text()))
    await page.goto(svc.baseUrl)
    await page.getByLabel("API token").fill("not-a-token")
    await page.getByRole("button", { name: "Sign in" }).click()
    await untilText(page.getByRole("alert"), "Your token was not accepted")
    await page.getByLabel("API token").fill(triager.token)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.getByRole("link", { name: village.name }).waitFor()
    expect(await page.evaluate(() => localStorage.getItem("bugbots.token"))).toBe(triager.token)
    await page.reload()
    await page.getByRole("link", { name: village.name }).waitFor()
    expect(await page.getByLabel("API token").count()).toBe(0)
    expect(violations).toEqual([])
    await context.close()
  })

  test("a bug created over REST appears on its house within a second; a status change moves it; a claim shows the agent on it", async () => {
    const { context, page } = await signedIn(triager.token)
    await openVillage(page)
    await untilText(page.locator(`[data-repo="${otherRepo.id}"]`), "checkout fails on empty cart")

    const started = Date.now()
    const bug = await makeBug({ severity: "critical" })
    await bugOnHouse(page, bug.id, "open").waitFor({ timeout: 1000 })
    const appearedMs = Date.now() - started
    console.log(`created over REST → on its house in ${appearedMs} ms`)
    expect(appearedMs).toBeLessThan(1000)
    await untilText(bugOnHouse(page, bug.id, "open"), bug.title)

    expect((await root.put(`/api/bugs/${bug.id}/status`, { status: "triaged" })).status).toBe(200)
    await bugOnHouse(page, bug.id, "triaged").waitFor({ timeout: 1000 })
    expect(await bugOnHouse(page, bug.id, "open").count()).toBe(0)

    const claim = await client(svc.baseUrl, agent.token).post("/api/agents/claim", { repo_id: repo.id })
    expect(claim.status).toBe(200)
    expect(claim.body.bug.id).toBe(bug.id)
    const claimed = bugOnHouse(page, bug.id, "in_progress")
    await claimed.waitFor({ timeout: 1000 })
    await untilText(claimed.locator(`[data-agent="${agent.id}"]`), agent.name, { exact: true })
    const chip = page.locator(`[data-repo="${repo.id}"] .agents.here [data-agent="${agent.id}"]`)
    await untilText(chip, `on: ${bug.title}`)

    await page.screenshot({ path: `${artifactsDir}dashboard-village.png`, fullPage: true })
    await context.close()
  }, 60_000)

  test("filters by status, severity and repo", async () => {
    const critical = await makeBug({ severity: "critical" })
    const low = await makeBug({ severity: "low" })
    const { context, page } = await signedIn(triager.token)
    await openVillage(page)
    await bugOnHouse(page, low.id, "open").waitFor()
    await page.getByLabel("Severity").selectOption("critical")
    await page.locator(`[data-bug="${low.id}"]`).waitFor({ state: "detached" })
    await bugOnHouse(page, critical.id, "open").waitFor()
    await page.getByLabel("Status").selectOption("triaged")
    await page.locator(`[data-bug="${critical.id}"]`).waitFor({ state: "detached" })
    expect(await page.locator(`[data-repo="${repo.id}"] [data-status]`).evaluateAll((lanes) => lanes.map((lane) => lane.getAttribute("data-status")))).toEqual(["triaged"])
    await page.getByLabel("Status").selectOption("")
    await page.getByLabel("Severity").selectOption("")
    await page.getByLabel("Repo").selectOption(otherRepo.id)
    await page.locator(`[data-repo="${repo.id}"]`).waitFor({ state: "detached" })
    await untilText(page.locator(`[data-repo="${otherRepo.id}"]`), "checkout fails on empty cart")
    await context.close()
  }, 60_000)

  test("an agent's work stream: replayed when opened, then live; pausing it is refused to a triager in words", async () => {
    const agentApi = client(svc.baseUrl, agent.token)
    const session = await agentApi.post("/api/agents/me/sessions")
    expect(session.status).toBe(201)
    expect((await agentApi.post(`/api/agent-sessions/${session.body.id}/events`, { type: "step", message: "reading the stack trace" })).status).toBe(201)
    const { context, page } = await signedIn(triager.token)
    await openVillage(page)
    await page.locator(`.agent[data-agent="${agent.id}"] a`).first().click()
    const panel = page.getByRole("dialog")
    await untilText(panel.getByRole("heading", { level: 2 }), `Agent ${agent.name}`)
    await untilText(panel.locator('[data-field="state"]'), "active", { exact: true })
    await untilText(panel.locator('[data-type="step"]'), "reading the stack trace")
    const started = Date.now()
    expect((await agentApi.post(`/api/agent-sessions/${session.body.id}/events`, { type: "tool_call", message: "bun test" })).status).toBe(201)
    await untilText(panel.locator('[data-type="tool_call"]'), "bun test", { timeout: 1000 })
    console.log(`work stream event posted → shown in ${Date.now() - started} ms`)
    await panel.getByRole("button", { name: "Pause agent" }).click()
    await untilText(panel.getByRole("alert"), "Refused: your role in this village does not allow this action.")
    expect((await root.get(`/api/villages/${village.id}/agents`)).body.items.find((a: { id: string }) => a.id === agent.id).state).toBe("active")
    await page.keyboard.press("Escape")
    await page.getByRole("dialog").waitFor({ state: "detached" })
    await context.close()
  }, 60_000)

  test("the drawer shows a report bug's occurrences, and its analyses only when the service answers for them", async () => {
    const report = { repo_id: repo.id, message: "TypeError: cart is undefined", release: "shop@2.14.1", environment: "production", exception: { type: "TypeError", value: "cart is undefined" } }
    const first = await root.post("/api/reports", report)
    expect(first.status).toBe(201)
    expect((await root.post("/api/reports", { ...report, release: "shop@2.14.2" })).status).toBe(201)
    const bugId = first.body.bug_id as string
    const { context, page } = await signedIn(triager.token)
    await openVillage(page)
    await page.goto(`${svc.baseUrl}/#/villages/${village.id}/bugs/${bugId}`)
    const drawer = page.getByRole("dialog")
    await untilText(drawer.getByRole("heading", { name: "Occurrences" }), "Occurrences")
    await untilText(drawer, "shop@2.14.2 · production")
    await untilText(drawer, "shop@2.14.1 · production")
    await drawer.locator('[data-kind="created"]').waitFor()
    const analyses = await root.get(`/api/bugs/${bugId}/analyses`)
    if (analyses.status === 404) expect(await drawer.locator('[data-section="analyses"]').count()).toBe(0)
    else await drawer.locator('[data-section="analyses"]').waitFor()
    await context.close()
  }, 60_000)

  test("axe finds no accessibility violations in the village and the drawer, and a phone-sized screen scrolls only down", async () => {
    const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8")
    const bug = await makeBug({ severity: "high", description: "seen on a phone" })
    // Only so that axe's script can be injected; the page's own policy is checked above.
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, bypassCSP: true })
    const page = await context.newPage()
    await page.goto(svc.baseUrl)
    await page.evaluate((token) => localStorage.setItem("bugbots.token", token), triager.token)
    await page.goto(`${svc.baseUrl}/#/villages/${village.id}`)
    await page.reload()
    await page.locator('[data-connection="live"]').waitFor()
    await bugOnHouse(page, bug.id, "open").waitFor()
    const audit = async () => {
      await page.addScriptTag({ content: axeSource })
      const result = await page.evaluate(async () => {
        const axe = (window as unknown as { axe: { run: (context: Document) => Promise<{ violations: Array<{ id: string; nodes: Array<{ target: Array<string> }> }> }> } }).axe
        return (await axe.run(document)).violations.map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`)
      })
      return result
    }
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(await audit()).toEqual([])
    expect(await overflow()).toBeLessThanOrEqual(0)
    await bugOnHouse(page, bug.id, "open").click()
    await page.getByRole("dialog").locator('[data-kind="created"]').waitFor()
    expect(await audit()).toEqual([])
    expect(await overflow()).toBeLessThanOrEqual(0)
    await page.screenshot({ path: `${artifactsDir}dashboard-phone-drawer.png` })
    await context.close()
  }, 60_000)

  test("killing and restarting the service shows reconnecting, then catches up with what was missed; a token revoked meanwhile signs out in words", async () => {
    const { context, page } = await signedIn(triager.token)
    await openVillage(page)
    const doomed = await makeUser("triager")
    const doomedPage = await signedIn(doomed.token)
    await openVillage(doomedPage.page)
    const before = await makeBug()
    await bugOnHouse(page, before.id, "open").waitFor()

    other = spawnService(databaseUrl, {})
    await other.ready(60_000)
    const bugListLoads: Array<string> = []
    page.on("request", (request) => request.url().includes(`/api/villages/${village.id}/bugs`) && bugListLoads.push(request.url()))

    await svc.kill("SIGKILL")
    await page.locator('[data-connection="reconnecting"]').waitFor({ timeout: 10_000 })
    await page.getByRole("status").filter({ hasText: "Reconnecting" }).waitFor()

    // Changes made while the page is cut off, through another instance on the same database.
    const viaOther = client(other.baseUrl, other.rootToken)
    const missed = await viaOther.post(`/api/villages/${village.id}/bugs`, { repo_id: repo.id, title: unique("missed"), severity: "low" })
    expect(missed.status).toBe(201)
    expect((await viaOther.put(`/api/bugs/${before.id}/status`, { status: "resolved" })).status).toBe(200)
    const sql = new Bun.SQL(databaseUrl)
    await sql`update api_tokens set revoked_at = now() where user_id = ${doomed.id}`
    await sql.close()

    svc = spawnService(databaseUrl, {}, { port, rootToken: svc.rootToken })
    await svc.ready(60_000)
    await page.locator('[data-connection="live"]').waitFor({ timeout: 15_000 })
    await bugOnHouse(page, missed.body.id, "open").waitFor({ timeout: 5_000 })
    await bugOnHouse(page, before.id, "resolved").waitFor({ timeout: 5_000 })
    expect(await bugOnHouse(page, before.id, "open").count()).toBe(0)
    // Caught up from the room's log (`since`), not by loading the list again.
    expect(bugListLoads).toEqual([])

    // And live again afterwards.
    const after = await makeBug()
    await bugOnHouse(page, after.id, "open").waitFor({ timeout: 1000 })
    await context.close()

    // The revoked token's socket cannot come back; the page asks REST why and signs out, saying so.
    await untilText(doomedPage.page.getByRole("alert"), "Your token was not accepted", { timeout: 15_000 })
    await doomedPage.page.getByLabel("API token").waitFor()
    expect(await doomedPage.page.evaluate(() => localStorage.getItem("bugbots.token"))).toBeNull()
    await doomedPage.context.close()
  }, 120_000)

  test("a user without the permission sees the action refused in words", async () => {
    const bug = await makeBug()
    const { context, page } = await signedIn(operator.token)
    await openVillage(page)
    await bugOnHouse(page, bug.id, "open").click()
    const drawer = page.getByRole("dialog")
    await drawer.waitFor()
    await untilText(drawer, "Your role (operator) may not")
    await drawer.getByLabel("New status").selectOption("triaged")
    await drawer.getByRole("button", { name: "Change status" }).click()
    await untilText(drawer.getByRole("alert"), "Refused: your role in this village does not allow this action.")
    await drawer.getByLabel("Note").fill("let me in")
    await drawer.getByRole("button", { name: "Add note" }).click()
    await untilText(drawer.getByRole("alert"), "Refused")
    const after = await root.get(`/api/bugs/${bug.id}`)
    expect(after.body.status).toBe("open")
    expect(after.body.version).toBe(bug.version)
    await context.close()
  }, 60_000)

  test("keyboard only: reach a bug bot, open its drawer, stay inside it, change status and add a note, close it", async () => {
    const bug = await makeBug({ severity: "medium", description: "steps: open the cart, press pay" })
    const { context, page } = await signedIn(triager.token)
    await openVillage(page)
    await bugOnHouse(page, bug.id, "open").waitFor()

    const focusedBug = () => page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset?.bug ?? null)
    let reached = false
    for (let presses = 0; presses < 80 && !reached; presses++) {
      await page.keyboard.press("Tab")
      reached = (await focusedBug()) === bug.id
    }
    expect(reached).toBe(true)
    await page.keyboard.press("Enter")
    const drawer = page.getByRole("dialog")
    await drawer.waitFor()
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("bug-drawer-title")
    await untilText(drawer, "steps: open the cart, press pay")
    await drawer.locator('[data-kind="created"]').waitFor()

    // Tab cycles within the drawer.
    for (let presses = 0; presses < 25; presses++) {
      await page.keyboard.press("Tab")
      expect(await page.evaluate(() => document.activeElement?.closest("[role=dialog]") !== null)).toBe(true)
    }

    const tabTo = async (name: string) => {
      for (let presses = 0; presses < 30; presses++) {
        const label = await page.evaluate(() => {
          const active = document.activeElement as HTMLElement | null
          return active?.closest("label")?.firstChild?.textContent?.trim() ?? active?.textContent?.trim() ?? ""
        })
        if (label === name) return
        await page.keyboard.press("Tab")
      }
      throw new Error(`Tab never reached ${name}`)
    }
    await tabTo("New status")
    await page.keyboard.press("t")
    expect(await drawer.getByLabel("New status").inputValue()).toBe("triaged")
    await tabTo("Reason")
    await page.keyboard.type("seen it")
    await tabTo("Change status")
    await page.keyboard.press("Enter")
    await untilText(drawer.getByRole("status"), "Status changed to triaged.", { exact: true })
    await untilText(drawer.locator('[data-field="status"]'), "triaged", { exact: true })
    await bugOnHouse(page, bug.id, "triaged").waitFor({ timeout: 1000 })

    await tabTo("Note")
    await page.keyboard.type("looking at the payment form")
    await tabTo("Add note")
    await page.keyboard.press("Enter")
    await untilText(drawer.locator('[data-kind="note"]'), "looking at the payment form")
    await page.screenshot({ path: `${artifactsDir}dashboard-drawer.png` })

    await page.keyboard.press("Escape")
    await page.getByRole("dialog").waitFor({ state: "detached" })
    await page.waitForFunction((id) => (document.activeElement as HTMLElement | null)?.dataset?.bug === id, bug.id, { timeout: 1000 })
    const events = await root.get(`/api/bugs/${bug.id}/events`)
    expect(events.body.items.map((event: { kind: string }) => event.kind)).toEqual(["created", "status_changed", "note"])
    await context.close()
  }, 60_000)
})
