import { afterAll, expect, test } from "bun:test"
import { client } from "./lib/Client.js"
import { spawnService, type ChildService } from "./lib/Child.js"
import { deliver, deliveryRow, eventually, githubId, holdIssue, issuesPayload, webhookSecret } from "./lib/GitHub.js"
import { freshDatabase } from "./lib/Service.js"

const children: Array<ChildService> = []
afterAll(async () => {
  for (const child of children) await child.kill()
})

test("a service killed with SIGKILL right after its 202 processes the delivery after restart", async () => {
  const { url } = await freshDatabase()
  const sql = new Bun.SQL(url)
  try {
    const first = spawnService(url, { GITHUB_WEBHOOK_SECRET: webhookSecret })
    children.push(first)
    await first.ready()
    await deliver(first.baseUrl, "ping", { zen: "warm up" })

    // The issue is held, so the claimed delivery is mid-processing when the kill lands.
    const issueId = githubId()
    const release = await holdIssue(url, issueId)
    const answer = await deliver(first.baseUrl, "issues", issuesPayload("opened", { issueId, title: "Survives a crash" }))
    expect(answer.status).toBe(202)
    expect(answer.body).toEqual({ status: "ACCEPTED", delivery_id: answer.id })
    expect(answer.ms).toBeLessThan(200)
    await Bun.sleep(100)
    first.process.kill("SIGKILL")
    await first.process.exited
    const killedAt = Date.now()

    expect((await deliveryRow(sql, answer.id))?.status).toBe("processing")
    expect((await sql`select count(*)::int as n from bug_bots where issue_id = ${issueId}`)[0].n).toBe(0)
    await release()

    const second = spawnService(url, { GITHUB_WEBHOOK_SECRET: webhookSecret })
    children.push(second)
    await second.ready()
    const row = await eventually(
      async () => {
        const r = await deliveryRow(sql, answer.id)
        return r?.status === "processed" ? r : undefined
      },
      35_000,
      "the stranded delivery to be processed"
    )
    expect(Date.now() - killedAt).toBeLessThan(30_000)
    // The lease that ran out counts as the one failed attempt.
    expect(row.attempts).toBe(1)

    const bugs = await sql`select id from bug_bots where issue_id = ${issueId}`
    expect(bugs.length).toBe(1)
    const events = await client(second.baseUrl, second.rootToken).get(`/api/bugs/${bugs[0].id}/events`)
    expect(events.body.items.map((e: any) => [e.kind, e.correlation_id])).toEqual([["created", answer.id]])
  } finally {
    await sql.close()
  }
}, 60_000)
