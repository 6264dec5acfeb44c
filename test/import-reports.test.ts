import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { client, type Client } from "./lib/Client.js"
import { makeVillage } from "./lib/Fixtures.js"
import { startService, type TestService } from "./lib/Service.js"

/** `bugbots import-reports` as a user runs it: the CLI as its own process, against the real service. */

let svc: TestService
let root: Client
let village: Awaited<ReturnType<typeof makeVillage>>
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "bugbots-import-"))
const examples = path.resolve(import.meta.dir, "../examples/legacy-reports")

beforeAll(async () => {
  svc = await startService()
  root = client(svc.baseUrl, svc.rootToken)
  village = await makeVillage(svc)
})
afterAll(async () => {
  await svc.stop()
  fs.rmSync(scratch, { recursive: true, force: true })
})

const newRepo = async () => {
  const repo = await root.post(`/api/villages/${village.id}/repos`, { full_name: `legacy/app-${crypto.randomUUID().slice(0, 8)}` })
  expect(repo.status).toBe(201)
  return repo.body.id as string
}

const cli = (args: ReadonlyArray<string>, token = svc.rootToken) =>
  Bun.spawn(["bun", path.resolve(import.meta.dir, "../src/Cli/main.ts"), ...args], {
    env: { ...process.env, BUGBOTS_URL: svc.baseUrl, BUGBOTS_TOKEN: token, LOG_LEVEL: "error" },
    stdout: "pipe",
    stderr: "pipe"
  })

const runCli = async (args: ReadonlyArray<string>, token?: string) => {
  const proc = cli(args, token)
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { stdout, stderr, code, summary: stdout.trim().split("\n").at(-1) ?? "" }
}

const bugsOf = async (repoId: string) =>
  (await root.get(`/api/villages/${village.id}/bugs?repo_id=${repoId}&limit=100`)).body.items as Array<Record<string, any>>

/** The repo's bugs once their counters have caught up with `total` occurrences. */
const settled = async (repoId: string, total: number) => {
  for (let i = 0; i < 100; i++) {
    const bugs = await bugsOf(repoId)
    if (bugs.reduce((n, b) => n + b.occurrences, 0) === total) return bugs
    await Bun.sleep(100)
  }
  throw new Error(`the occurrences of repo ${repoId} never added up to ${total}`)
}

describe("bugbots import-reports", () => {
  test("the examples: grouped like error reports, statuses kept, one line per invalid file, a summary, exit 2", async () => {
    const repoId = await newRepo()
    const checkpoint = path.join(scratch, "examples.jsonl")
    const dry = await runCli(["import-reports", examples, "--repo", repoId, "--dry-run", "--checkpoint", checkpoint])
    expect(dry.summary).toBe("dry run: would import 7, skipped 0 (already imported), invalid 2")
    expect(fs.existsSync(checkpoint)).toBe(false)
    expect(await bugsOf(repoId)).toEqual([])

    const first = await runCli(["import-reports", examples, "--repo", repoId, "--checkpoint", checkpoint])
    expect(first.summary).toBe("imported 7, skipped 0 (already imported), invalid 2")
    expect(first.code).toBe(2)
    const invalid = first.stdout.split("\n").filter((line) => line.startsWith("invalid "))
    expect(invalid).toEqual([
      `invalid 2024-03-25-incomplete.json: title: is missing; severity: unknown value "sev2" (one of critical, blocker, urgent, p0, high, major, p1, medium, normal, moderate, p2, low, minor, trivial, p3, p4); created_at: not a timestamp: "yesterday"`,
      expect.stringMatching(/^invalid 2024-03-26-truncated\.json: not JSON: /)
    ])

    const bugs = await settled(repoId, 7)
    const byTitle = new Map(bugs.map((b) => [b.title, b]))
    // Two reports of one crash (line numbers apart) are one bug; so are the two Android ones.
    expect(bugs).toHaveLength(5)
    expect(byTitle.get("Checkout returns 500 when the cart has a removed product")).toMatchObject({
      occurrences: 2,
      status: "open",
      severity: "critical",
      provider: "report",
      first_seen: "2024-03-02T09:14:27.000Z",
      last_seen: "2024-03-05T16:40:03.000Z",
      last_release: "shop@2.14.1"
    })
    expect(byTitle.get("Android app crashes when opening an order without a delivery slot")).toMatchObject({ occurrences: 2, severity: "high" })
    // Statuses as the legacy tracker had them: fixed is resolved, wontfix closed, triaged open.
    expect(byTitle.get("CSV export crashes for accounts without a VAT number")).toMatchObject({ status: "resolved", occurrences: 1 })
    expect(byTitle.get("CSV export crashes for accounts without a VAT number")!.resolved_at).not.toBeNull()
    expect(byTitle.get("Push notification opens the wrong tab")).toMatchObject({ status: "closed" })
    expect(byTitle.get("Search times out after 30000 ms for queries with a trailing space")).toMatchObject({ status: "open", request_id: "req-c0ffee" })

    // The Python traceback grouped by its exception and in-app frames, named in the grouping.
    const csv = byTitle.get("CSV export crashes for accounts without a VAT number")!
    const grouping = (await root.get(`/api/bugs/${csv.id}/grouping`)).body
    expect(grouping.components.filter((c: any) => c.contributed).map((c: any) => [c.name, c.values])).toEqual([
      ["exception.type", ["KeyError"]],
      ["frames", ["exports/views.py export_csv", "exports/views.py row_for"]]
    ])
    const [occurrence] = (await root.get(`/api/bugs/${csv.id}/occurrences`)).body.items
    expect(occurrence).toMatchObject({ event_id: "legacy-1063", release: "backoffice@5.2.0", tags: { legacy_id: "1063" } })

    // Again: the checkpoint skips every file; with a checkpoint of its own, the service still counts each once.
    const again = await runCli(["import-reports", examples, "--repo", repoId, "--checkpoint", checkpoint])
    expect(again.summary).toBe("imported 0, skipped 7 (already imported), invalid 2")
    const fresh = await runCli(["import-reports", examples, "--repo", repoId, "--checkpoint", path.join(scratch, "other.jsonl")])
    expect(fresh.summary).toBe("imported 0, skipped 7 (already imported), invalid 2")
    await Bun.sleep(500)
    expect((await settled(repoId, 7)).map((b) => b.version).sort()).toEqual(bugs.map((b) => b.version).sort())
  })

  test("killed midway, a second run resumes: every report counted exactly once", async () => {
    const repoId = await newRepo()
    const dir = path.join(scratch, "many")
    fs.mkdirSync(dir)
    const total = 150
    for (let i = 0; i < total; i++) {
      const report = { id: `R-${i}`, title: "Nightly sync fails: connection reset", severity: "medium", created_at: new Date(Date.UTC(2024, 0, 1, 0, i)).toISOString() }
      fs.writeFileSync(path.join(dir, `${String(i).padStart(4, "0")}.json`), JSON.stringify(report))
    }
    const checkpoint = path.join(scratch, "many.jsonl")
    const proc = cli(["import-reports", dir, "--repo", repoId, "--checkpoint", checkpoint, "--progress", "lines"])
    const reader = proc.stdout.getReader()
    let seen = ""
    while ((seen.match(/\(\d+\/150\)/g) ?? []).length < 40) {
      const { value, done } = await reader.read()
      if (done) throw new Error(`the import ended before it was killed: ${seen}`)
      seen += new TextDecoder().decode(value)
    }
    proc.kill("SIGKILL")
    await proc.exited
    const checkpointed = fs.readFileSync(checkpoint, "utf8").split("\n").filter((line) => line.length > 0).length
    expect(checkpointed).toBeGreaterThanOrEqual(40)
    expect(checkpointed).toBeLessThan(total)

    const resumed = await runCli(["import-reports", dir, "--repo", repoId, "--checkpoint", checkpoint, "--progress", "lines"])
    expect(resumed.code).toBe(0)
    const [, imported, skipped] = /^imported (\d+), skipped (\d+) \(already imported\), invalid 0$/.exec(resumed.summary) ?? []
    expect(Number(imported) + Number(skipped)).toBe(total)
    // Only what the checkpoint had, and the few sent after its last line, are skipped.
    expect(Number(skipped)).toBeGreaterThanOrEqual(checkpointed)
    expect(Number(skipped)).toBeLessThanOrEqual(checkpointed + 5)
    const [bug] = await settled(repoId, total)
    expect(bug).toMatchObject({ occurrences: total, first_seen: "2024-01-01T00:00:00.000Z" })

    const rerun = await runCli(["import-reports", dir, "--repo", repoId, "--checkpoint", checkpoint])
    expect(rerun.summary).toBe(`imported 0, skipped ${total} (already imported), invalid 0`)
  })

  test("a bar on request; the service's refusals told as its envelope says, exit 1", async () => {
    const repoId = await newRepo()
    const checkpoint = path.join(scratch, "bar.jsonl")
    const bar = await runCli(["import-reports", path.join(examples, "2024-03-18-mobile-batch.json"), "--repo", repoId, "--checkpoint", checkpoint, "--progress", "bar"])
    expect(bar.stderr).toContain("[##############################] 1/1 files · imported 3 · skipped 0 · invalid 0")
    expect(bar.summary).toBe("imported 3, skipped 0 (already imported), invalid 0")

    const stranger = await runCli(["import-reports", examples, "--repo", repoId, "--checkpoint", path.join(scratch, "x.jsonl")], "not-a-token")
    expect(stranger.code).toBe(1)
    expect(stranger.stderr).toContain("error: UNAUTHENTICATED:")
    const missing = await runCli(["import-reports", examples, "--repo", crypto.randomUUID(), "--checkpoint", path.join(scratch, "y.jsonl")])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("error: NOT_FOUND:")
    const notUuid = await runCli(["import-reports", examples, "--repo", "acme/api"])
    expect(notUuid.code).not.toBe(0)
  })
})
