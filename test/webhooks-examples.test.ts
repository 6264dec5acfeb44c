import { afterAll, beforeAll, expect, test } from "bun:test"
import { readdirSync } from "node:fs"
import * as path from "node:path"
import { deliver, eventually, githubId, issuesPayload, webhookSecret } from "./lib/GitHub.js"
import { startService, type TestService } from "./lib/Service.js"

interface Definition {
  readonly name: string
  readonly examples: ReadonlyArray<Record<string, unknown>>
}

/** Every example of every event in @octokit/webhooks-examples: github.com and each GHES version. */
const examples = (() => {
  const root = path.dirname(Bun.resolveSync("@octokit/webhooks-examples/package.json", import.meta.dir))
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((dir) =>
      (require(path.join(root, dir.name, "index.json")) as ReadonlyArray<Definition>).flatMap((definition) =>
        definition.examples.map((payload) => ({ source: dir.name, event: definition.name, payload }))
      )
    )
})()

/** Contract §6, written out independently of the service's own table. */
const acted: Record<string, ReadonlyArray<string>> = {
  issues: ["opened", "edited", "labeled", "unlabeled", "closed", "reopened", "deleted"],
  installation: ["created", "deleted", "suspend", "unsuspend"],
  installation_repositories: ["added", "removed"],
  pull_request: ["opened", "reopened", "ready_for_review", "synchronize", "closed"],
  issue_comment: ["created"]
}
const expectedStatus = (event: string, payload: Record<string, unknown>) =>
  acted[event]?.includes(String(payload.action)) ? "ACCEPTED" : "IGNORED"

let svc: TestService
beforeAll(async () => {
  svc = await startService({ env: { GITHUB_WEBHOOK_SECRET: webhookSecret } })
})
afterAll(() => svc.stop())

test("every example of every event is answered 202, applied without a failure, and the service stays healthy", async () => {
  expect(examples.length).toBeGreaterThan(300)
  const answers: Array<{ event: string; source: string; expected: string; status: number; body: any; id: string }> = []
  for (let i = 0; i < examples.length; i += 16) {
    const batch = examples.slice(i, i + 16)
    answers.push(
      ...(await Promise.all(
        batch.map(async (example) => ({
          ...(await deliver(svc.baseUrl, example.event, example.payload)),
          event: example.event,
          source: example.source,
          expected: expectedStatus(example.event, example.payload)
        }))
      ))
    )
  }
  const wrong = answers.filter((a) => a.status !== 202 || a.body.status !== a.expected)
  expect(wrong.map((a) => [a.source, a.event, a.status, a.body])).toEqual([])
  const accepted = answers.filter((a) => a.expected === "ACCEPTED")
  expect(accepted.length).toBeGreaterThan(50)

  const counts = await eventually(
    async () => {
      const rows = await svc.sql`select case status when 'done' then 'processed' when 'running' then 'processing' else status end as status, count(*)::int as n from jobs where kind = 'github.delivery' group by 1`
      const byStatus = Object.fromEntries(rows.map((r: any) => [r.status, r.n]))
      return (byStatus.pending ?? 0) + (byStatus.processing ?? 0) === 0 ? byStatus : undefined
    },
    20_000,
    "every delivery to settle"
  )
  const failed = await svc.sql`select meta ->> 'delivery_id' as id, meta ->> 'event' as event, meta ->> 'action' as action, last_error from jobs where kind = 'github.delivery' and status = 'failed'`
  expect(failed).toEqual([])
  expect(counts).toEqual({ processed: accepted.length, ignored: answers.length - accepted.length })

  const issues = accepted.filter((a) => a.event === "issues").length
  expect(issues).toBeGreaterThan(0)
  const bugs = await svc.sql`select count(*)::int as n from bug_bots where provider = 'github'`
  expect(bugs[0].n).toBeGreaterThan(0)
  const villages = await svc.sql`select count(*)::int as n from villages where github_org_id is not null`
  expect(villages[0].n).toBeGreaterThan(0)

  expect((await fetch(`${svc.baseUrl}/readyz`)).status).toBe(200)
  const issueId = githubId()
  const after = await deliver(svc.baseUrl, "issues", issuesPayload("opened", { issueId }))
  expect(after.body.status).toBe("ACCEPTED")
  await eventually(
    async () => (await svc.sql`select 1 from bug_bots where issue_id = ${issueId}`).length === 1,
    5000,
    "a bug from a delivery after the replay"
  )
}, 120_000)
