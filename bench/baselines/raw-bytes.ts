/**
 * The baseline of bench/rest.ts: raw `Bun.serve` (no auth, no database) answering every request
 * with the bytes of one real response of the service — body from `BODY_FILE`, `STATUS`,
 * `CONTENT_TYPE` — after reading and parsing the request's JSON body, as the service does.
 */
import { readFileSync } from "node:fs"

const body = readFileSync(process.env.BODY_FILE!)
const init = { status: Number(process.env.STATUS), headers: { "content-type": process.env.CONTENT_TYPE! } }
Bun.serve({
  port: Number(process.env.PORT),
  hostname: "127.0.0.1",
  fetch: async (request) => {
    const text = await request.text()
    if (text.length > 0) JSON.parse(text)
    return new Response(body, init)
  }
})
