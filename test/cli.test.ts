import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as fs from "node:fs"
import * as path from "node:path"
import { freePort } from "./lib/Child.js"
import { makeBug, makeUser, makeVillage } from "./lib/Fixtures.js"
import { startService, type TestService } from "./lib/Service.js"

/**
 * `bugbots status`, `bugs list`, `bugs show` (contract §12): the CLI as its own process against the
 * real service, as tables (and, in tmux, as a person sees them on a terminal) and as JSON.
 */

const main = path.resolve(import.meta.dir, "../src/Cli/main.ts")
const fixture = path.resolve(import.meta.dir, "fixtures/cli/bugs-list.txt")
let svc: TestService
let village: Awaited<ReturnType<typeof makeVillage>>
let made: Array<{ id: string; title: string }> = []

beforeAll(async () => {
  svc = await startService()
  village = await makeVillage(svc)
  await svc.sql`update villages set name = 'acme' where id = ${village.id}`
  // Made one after the other, so that newest first is the reverse.
  made = [
    await makeBug(village.root, village.id, village.repoId, { title: "Checkout fails with an expired card", severity: "critical" }),
    await makeBug(village.root, village.id, village.repoId, { title: "Avatar upload is slow", severity: "low" }),
    await makeBug(village.root, village.id, village.repoId, { title: "Search ignores accents", severity: "medium" })
  ]
  expect((await village.root.put(`/api/bugs/${made[1].id}/status`, { status: "resolved" })).status).toBe(200)
})
afterAll(async () => {
  await svc.stop()
})

const run = async (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const child = Bun.spawn(["bun", main, ...args], {
    env: { ...process.env, BUGBOTS_URL: svc.baseUrl, BUGBOTS_TOKEN: svc.rootToken, LOG_LEVEL: "error", ...env },
    stdout: "pipe",
    stderr: "pipe"
  })
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
  return { stdout, stderr, code }
}

/** What varies from run to run, ids and times, as placeholders of the same width (the columns stay as seen). */
const normalise = (text: string) =>
  text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d/g, "YYYY-MM-DD hh:mm")

describe("bugbots bugs", () => {
  test("list: a table for people (no colour off a terminal), newest first; filters; --json for scripts", async () => {
    const listed = await run(["bugs", "list", "--village", village.id])
    expect(listed.code).toBe(0)
    expect(listed.stdout).not.toContain("\u001b[")
    const lines = listed.stdout.trimEnd().split("\n")
    expect(lines[0]).toMatch(/^ID\s+SEVERITY\s+STATUS\s+TITLE\s+SEEN\s+CREATED$/)
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 4))).toEqual([
      [made[2].id, "medium", "open", "Search ignores accents"],
      [made[1].id, "low", "resolved", "Avatar upload is slow"],
      [made[0].id, "critical", "open", "Checkout fails with an expired card"]
    ])

    const open = await run(["bugs", "list", "--village", village.id, "--status", "open", "--json"])
    expect(open.code).toBe(0)
    const items = JSON.parse(open.stdout) as Array<{ id: string; status: string; created_at: string }>
    expect(items.map((b) => b.id)).toEqual([made[2].id, made[0].id])
    expect(items.every((b) => b.status === "open" && typeof b.created_at === "string")).toBe(true)

    const critical = JSON.parse((await run(["bugs", "list", "--severity", "critical", "--repo", village.repoId, "--json"])).stdout)
    expect(critical.map((b: { id: string }) => b.id)).toEqual([made[0].id])
    const one = JSON.parse((await run(["bugs", "list", "--village", village.id, "--limit", "1", "--json"])).stdout)
    expect(one.map((b: { id: string }) => b.id)).toEqual([made[2].id])
  })

  test("show: one bug in full, or as JSON; an unknown one is the envelope's message and exit 1", async () => {
    const shown = await run(["bugs", "show", made[0].id])
    expect(shown.code).toBe(0)
    const lines = shown.stdout.split("\n")
    expect(lines[0]).toBe("Checkout fails with an expired card")
    expect(lines).toContain(`id           ${made[0].id}`)
    expect(lines).toContain("severity     critical")
    expect(lines).toContain(`village      ${village.id}`)

    const asJson = JSON.parse((await run(["bugs", "show", made[0].id, "--json"])).stdout)
    expect(asJson.id).toBe(made[0].id)
    expect(asJson.severity).toBe("critical")

    const missing = crypto.randomUUID()
    const unknown = await run(["bugs", "show", missing])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr.trim()).toBe(`error: NOT_FOUND: bug ${missing} not found`)
  })
})

describe("bugbots status", () => {
  test("bugs by status and severity, SLA breaches per village, and the queues for a superuser; --json", async () => {
    const shown = await run(["status"])
    expect(shown.code).toBe(0)
    expect(shown.stdout).toContain("Bugs by status")
    const acme = shown.stdout.split("\n").filter((line) => line.startsWith("acme"))
    expect(acme[0].split(/\s+/)).toEqual(["acme", "2", "0", "0", "0", "0", "1", "0"])
    expect(acme[1].split(/\s+/).slice(0, 7)).toEqual(["acme", "1", "0", "1", "0", "0", "0"])
    expect(shown.stdout).toMatch(/^webhook_deliveries\s+0\s+0\s+0\s+-\s+-$/m)
    expect(shown.stdout).toContain("instances: 1 live")

    const asJson = JSON.parse((await run(["status", "--json"])).stdout)
    const stats = (await village.root.get(`/api/villages/${village.id}/stats`)).body
    expect(asJson.villages.find((v: { id: string }) => v.id === village.id)).toEqual({ id: village.id, name: "acme", ...stats })
    expect(asJson.status.queues.map((q: { queue: string }) => q.queue)).toEqual(["webhook_deliveries", "bot_actions", "analyses", "notifications"])

    // Not a superuser: the bugs it can see, no queues.
    const member = await makeUser(svc, { village: village.id, role: "triager" })
    const limited = await run(["status"], { BUGBOTS_TOKEN: member.token })
    expect(limited.code).toBe(0)
    expect(limited.stdout).toContain("queues: shown to superusers only")
    expect(JSON.parse((await run(["status", "--json"], { BUGBOTS_TOKEN: member.token })).stdout).status).toBeNull()
  })
})

describe("failures", () => {
  test("a bad token: the envelope's message, exit 1, for every command", async () => {
    for (const args of [["status"], ["bugs", "list"], ["bugs", "show", made[0].id], ["status", "--json"]]) {
      const result = await run(args, { BUGBOTS_TOKEN: "not-a-token" })
      expect(result.code).toBe(1)
      expect(result.stderr.trim()).toBe("error: UNAUTHENTICATED: missing, unknown or revoked bearer token")
      expect(result.stdout).toBe("")
    }
  })

  test("an unreachable service: said so, exit 1", async () => {
    const url = `http://127.0.0.1:${freePort()}`
    const result = await run(["bugs", "list"], { BUGBOTS_URL: url, BUGBOTS_CLI_RETRIES: "1" })
    expect(result.code).toBe(1)
    expect(result.stderr).toStartWith(`error: UNREACHABLE: cannot reach ${url}`)
  })

  test("--help on every command", async () => {
    for (const [args, says] of [
      [[], "bugbots"],
      [["status"], "queue depths"],
      [["bugs"], "bugs as the service has them"],
      [["bugs", "list"], "--severity"],
      [["bugs", "show"], "one bug in full"],
      [["import-reports"], "--dry-run"],
      [["migrate"], "apply the migrations"],
      [["seed"], "demo data"]
    ] as const) {
      const result = await run([...args, "--help"])
      expect(result.code).toBe(0)
      expect(result.stdout).toContain(says)
    }
  })
})

describe("bunx bugbots", () => {
  test("works from the checkout (the bin of the cli workspace)", async () => {
    const child = Bun.spawn(["bunx", "bugbots", "bugs", "list", "--village", village.id, "--json"], {
      cwd: path.resolve(import.meta.dir, ".."),
      env: { ...process.env, BUGBOTS_URL: svc.baseUrl, BUGBOTS_TOKEN: svc.rootToken, LOG_LEVEL: "error" },
      stdout: "pipe",
      stderr: "pipe"
    })
    const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited])
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toHaveLength(3)
  })
})

describe("on a terminal (tmux)", () => {
  test("the table a person sees: coloured severities, cut to the terminal's width; kept as a fixture", async () => {
    const socket = `bugbots-cli-${process.pid}`
    const tmux = (...args: Array<string>) => Bun.spawnSync(["tmux", "-L", socket, ...args], { stdout: "pipe", stderr: "pipe" })
    const command = [
      "env", `BUGBOTS_URL=${svc.baseUrl}`, `BUGBOTS_TOKEN=${svc.rootToken}`, "LOG_LEVEL=error", "TERM=xterm-256color",
      "bun", main, "bugs", "list", "--village", village.id
    ].map((part) => `'${part}'`).join(" ")
    const started = tmux("new-session", "-d", "-s", "cli", "-x", "100", "-y", "12", `${command}; echo __done__; sleep 60`)
    expect(started.exitCode).toBe(0)
    try {
      let screen = ""
      for (let i = 0; i < 200 && !screen.includes("__done__"); i++) {
        await Bun.sleep(100)
        screen = tmux("capture-pane", "-p", "-t", "cli").stdout.toString()
      }
      expect(screen).toContain("__done__")
      const coloured = tmux("capture-pane", "-p", "-e", "-t", "cli").stdout.toString()
      // critical is bold red, the header bold.
      expect(coloured).toContain("\u001b[1m\u001b[31mcritical")
      expect(coloured).toContain("\u001b[1mID")
      const seen = normalise(screen.slice(0, screen.indexOf("__done__")).trimEnd())
      for (const line of seen.split("\n")) expect(line.length).toBeLessThanOrEqual(100)
      if (process.env.UPDATE_FIXTURES) fs.writeFileSync(fixture, `${seen}\n`)
      expect(seen).toBe(fs.readFileSync(fixture, "utf8").trimEnd())
    } finally {
      tmux("kill-server")
    }
  })
})
