/** The baseline: raw `Bun.serve` answering a canned page of 50 bugs (no auth, no database). */
const bug = (i: number) => ({
  id: crypto.randomUUID(), village_id: crypto.randomUUID(), repo_id: crypto.randomUUID(), provider: "manual", issue_id: null,
  issue_number: null, title: `bug ${i}`, description: "a description of the bug", status: "open", severity: "high",
  category: null, assigned_agent_id: null, source: "manual", metadata: {}, version: 1, created_at: new Date().toISOString(),
  updated_at: new Date().toISOString(), resolved_at: null
})
const page = JSON.stringify({ items: Array.from({ length: 50 }, (_, i) => bug(i)), next_cursor: "x" })
const one = JSON.stringify(bug(0))
Bun.serve({
  port: Number(process.env.PORT),
  fetch: (request) => new Response(request.method === "GET" ? page : one, { headers: { "content-type": "application/json" } })
})
