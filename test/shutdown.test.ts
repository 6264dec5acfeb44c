import { afterAll, expect, test } from "bun:test"
import { spawnService, type ChildService } from "./lib/Child.js"
import { deliver, deliveryRow, eventually, githubId, holdIssue, issuesPayload, webhookSecret } from "./lib/GitHub.js"
import { freshDatabase } from "./lib/Service.js"
import { connectWs } from "./lib/Ws.js"

const children: Array<ChildService> = []
afterAll(async () => {
  for (const child of children) await child.kill("SIGKILL")
})

interface RawResponse {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

/**
 * A request written by hand on a TCP socket, its body in two parts: the request is in flight
 * (its handler waiting for the rest of the body) for as long as the test wants.
 */
const slowPost = async (baseUrl: string, path: string, token: string, body: string) => {
  const url = new URL(baseUrl)
  let received = Buffer.alloc(0)
  let onEnd: (ending: { response: RawResponse | null; error: string | null }) => void = () => {}
  const ended = new Promise<{ response: RawResponse | null; error: string | null }>((resolve) => (onEnd = resolve))
  const parse = (): RawResponse | null => {
    const end = received.indexOf("\r\n\r\n")
    if (end < 0) return null
    const [statusLine, ...lines] = received.subarray(0, end).toString().split("\r\n")
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]))
    const content = received.subarray(end + 4)
    if (content.length < Number(headers["content-length"] ?? 0)) return null
    return { status: Number(statusLine.split(" ")[1]), headers, body: content.toString() }
  }
  const socket = await Bun.connect({
    hostname: url.hostname,
    port: Number(url.port),
    socket: {
      data(_, chunk) {
        received = Buffer.concat([received, chunk])
      },
      close(_, error) {
        onEnd({ response: parse(), error: error === undefined ? null : String(error) })
      },
      error(_, error) {
        onEnd({ response: parse(), error: String(error) })
      }
    }
  })
  const split = Math.floor(body.length / 2)
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, split)}`
  )
  return {
    finish: () => void socket.write(body.slice(split)),
    /** The full answer, or null when the connection ended without one (with the error, if any). */
    ended
  }
}

/** An `@effect/rpc` WebSocket to `/rpc` (its handshake authenticates every call). */
const openRpcSocket = (baseUrl: string, token: string) =>
  new Promise<{ readonly closed: Promise<number> }>((resolve, reject) => {
    const socket: WebSocket = Reflect.construct(WebSocket, [`${baseUrl.replace(/^http/, "ws")}/rpc`, { headers: { authorization: `Bearer ${token}` } }])
    const closed = new Promise<number>((r) => socket.addEventListener("close", (event) => r(event.code)))
    socket.onopen = () => resolve({ closed })
    socket.onerror = () => reject(new Error("the RPC WebSocket failed to open"))
  })

const within = <A>(promise: Promise<A>, ms: number, what: string) =>
  Promise.race([promise, Bun.sleep(ms).then(() => Promise.reject(new Error(`${what}: nothing within ${ms} ms`)))])

/** Whether a new TCP connection to the service is refused. */
const refused = (baseUrl: string) => {
  const url = new URL(baseUrl)
  return Bun.connect({ hostname: url.hostname, port: Number(url.port), socket: { data() {} } }).then(
    (socket) => {
      socket.end()
      return false
    },
    (error: { code?: string }) => error.code === "ECONNREFUSED"
  )
}

test("SIGTERM: in-flight request answered, sockets closed 1001, claimed delivery released, new connections refused, exit 0", async () => {
  const { url } = await freshDatabase()
  const sql = new Bun.SQL(url)
  try {
    const first = spawnService(url, { GITHUB_WEBHOOK_SECRET: webhookSecret, BUGBOTS_SHUTDOWN_GRACE: "5 seconds" })
    children.push(first)
    await first.ready()

    // The issue is held, so the claimed delivery is still being processed when the signal comes.
    const issueId = githubId()
    const release = await holdIssue(url, issueId)
    const delivery = await deliver(first.baseUrl, "issues", issuesPayload("opened", { issueId, title: "Handed over at shutdown" }))
    expect(delivery.status).toBe(202)
    const claimed = await eventually(
      async () => {
        const [row] = await sql`select status, lease_expires_at from jobs where meta ->> 'delivery_id' = ${delivery.id}`
        return row?.status === "running" ? row : undefined
      },
      5000,
      "the delivery to be claimed"
    )
    const leaseEnd = new Date(claimed.lease_expires_at).getTime()

    const ws = await connectWs(first.baseUrl, first.rootToken)
    const rpc = await openRpcSocket(first.baseUrl, first.rootToken)
    const name = `drained-${Date.now()}`
    const inFlight = await slowPost(first.baseUrl, "/api/villages", first.rootToken, JSON.stringify({ name }))
    await Bun.sleep(200)

    const signalled = Date.now()
    first.process.kill("SIGTERM")

    expect((await within(ws.closed, 2000, "the /ws close")).code).toBe(1001)
    expect(await within(rpc.closed, 2000, "the /rpc close")).toBe(1001)

    const released = await eventually(
      async () => {
        const row = await deliveryRow(sql, delivery.id)
        return row?.status === "pending" ? row : undefined
      },
      2000,
      "the claimed delivery to be released"
    )
    expect(released.lease_token).toBeNull()
    expect(released.attempts).toBe(0)
    await release()
    const releasedAfter = Date.now() - signalled

    expect(await eventually(() => refused(first.baseUrl), 2000, "new connections to be refused")).toBe(true)
    // All of the above happened while the request is still in flight, and the process still up.
    await Bun.sleep(500)
    expect(first.process.exitCode).toBeNull()

    const finished = Date.now()
    inFlight.finish()
    const { response, error } = await within(inFlight.ended, 3000, "the in-flight answer")
    const answered = Date.now()
    expect(error).toBeNull()
    expect(response?.status).toBe(201)
    expect(JSON.parse(response?.body ?? "{}").name).toBe(name)

    expect(await within(first.process.exited, 5000, "the exit")).toBe(0)
    const exited = Date.now()
    expect(first.process.signalCode).toBeNull()
    expect(exited).toBeGreaterThanOrEqual(answered)
    expect(exited - signalled).toBeLessThan(5000)
    console.log(
      `after SIGTERM: delivery released by ${releasedAfter} ms; in-flight body finished at ${finished - signalled} ms, ` +
        `answered at ${answered - signalled} ms; exit at ${exited - signalled} ms`
    )

    const second = spawnService(url, { GITHUB_WEBHOOK_SECRET: webhookSecret })
    children.push(second)
    await second.ready()
    const processed = await eventually(
      async () => {
        const row = await deliveryRow(sql, delivery.id)
        return row?.status === "processed" ? row : undefined
      },
      10_000,
      "the released delivery to be processed by the second instance"
    )
    // Well before the first instance's 20 s lease would have run out (both times are the database's).
    expect(leaseEnd - new Date(processed.processed_at).getTime()).toBeGreaterThan(10_000)
    expect((await sql`select count(*)::int as n from bug_bots where issue_id = ${issueId}`)[0].n).toBe(1)
  } finally {
    await sql.close()
  }
}, 60_000)

test("SIGINT: a request still running when the grace ends is answered 503 with retry-after, then exit 0", async () => {
  const { url } = await freshDatabase()
  const child = spawnService(url, { BUGBOTS_SHUTDOWN_GRACE: "1 second" })
  children.push(child)
  await child.ready()

  const stuck = await slowPost(child.baseUrl, "/api/villages", child.rootToken, JSON.stringify({ name: `never-finished-${Date.now()}` }))
  await Bun.sleep(200)
  const signalled = Date.now()
  child.process.kill("SIGINT")

  const { response } = await within(stuck.ended, 5000, "the answer to the cut request")
  const answered = Date.now() - signalled
  expect(response?.status).toBe(503)
  expect(response?.headers["retry-after"]).toMatch(/^\d+$/)
  const body = JSON.parse(response?.body ?? "{}")
  expect(body.error.code).toBe("SERVICE_UNAVAILABLE")
  expect(typeof body.error.message).toBe("string")
  expect(typeof body.error.request_id).toBe("string")
  expect(answered).toBeGreaterThanOrEqual(900)

  expect(await within(child.process.exited, 5000, "the exit")).toBe(0)
  expect(child.process.signalCode).toBeNull()
  console.log(`after SIGINT: cut request answered 503 at ${answered} ms; exit at ${Date.now() - signalled} ms`)
}, 30_000)
