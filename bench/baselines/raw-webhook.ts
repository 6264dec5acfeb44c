/** The webhook baseline: raw `Bun.serve` that only verifies `X-Hub-Signature-256` (with @octokit/webhooks) and answers 202. */
import { Webhooks } from "@octokit/webhooks"

const webhooks = new Webhooks({ secret: process.env.WEBHOOK_SECRET! })
Bun.serve({
  port: Number(process.env.PORT),
  hostname: "127.0.0.1",
  fetch: async (request) => {
    if (request.method !== "POST") return new Response(null, { status: 404 })
    const body = await request.text()
    const signature = request.headers.get("x-hub-signature-256") ?? ""
    const valid = body.length > 0 && signature.length > 0 && (await webhooks.verify(body, signature))
    if (!valid) return Response.json({ error: { code: "INVALID_SIGNATURE" } }, { status: 401 })
    return Response.json({ status: "ACCEPTED", delivery_id: request.headers.get("x-github-delivery") }, { status: 202 })
  }
})
