import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { client } from "./lib/Client.js"
import { makeBug, makeUser, makeVillage } from "./lib/Fixtures.js"
import { httpReceiver, type HttpReceiver, signatureOf, smtpReceiver, type SmtpReceiver } from "./lib/Receivers.js"
import { startService, type TestService } from "./lib/Service.js"

let svc: TestService
let second: TestService
let smtp: SmtpReceiver
const receivers: Array<HttpReceiver> = []
const secret = "a-webhook-secret-of-some-length"

const env = (smtpUrl: string) => ({
  BUGBOTS_ALLOW_PRIVATE_TARGETS: "true",
  BUGBOTS_SECRETS_KEY: "test-secrets-key",
  BUGBOTS_SMTP_URL: smtpUrl,
  BUGBOTS_SLA_SWEEP_INTERVAL: "200 millis",
  BUGBOTS_NOTIFICATION_RETRY_BASE: "100 millis",
  BUGBOTS_NOTIFICATION_MAX_ATTEMPTS: "3",
  BUGBOTS_AI_PROVIDERS: "heuristic"
})

beforeAll(async () => {
  smtp = await smtpReceiver()
  svc = await startService({ env: env(smtp.url) })
  // A second instance on the same database: both sweep for SLA breaches, both send.
  second = await startService({ databaseUrl: svc.databaseUrl, env: env(smtp.url) })
})
afterAll(async () => {
  await second.stop()
  await svc.stop()
  await smtp.stop()
  for (const r of receivers) r.stop()
})

const receiver = (withSecret = secret) => {
  const r = httpReceiver(withSecret)
  receivers.push(r)
  return r
}

const waitFor = async <T>(probe: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> => {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`)
    await Bun.sleep(50)
  }
}

/** The bug's SLA deadline moved into the past, as time passing would. */
const breach = (bugId: string) => svc.sql`update bug_bots set sla_due_at = now() - interval '1 second' where id = ${bugId}`

const channel = async (api: ReturnType<typeof client>, villageId: string, body: Record<string, unknown>) => {
  const created = await api.post(`/api/villages/${villageId}/notification-channels`, body)
  expect(created.status).toBe(201)
  return created.body
}

const deliveries = async (status?: string) => {
  const list = await client(svc.baseUrl, svc.rootToken).get(`/api/admin/notification-deliveries?limit=200${status ? `&status=${status}` : ""}`)
  expect(list.status).toBe(200)
  return list.body.items as Array<any>
}

describe("notification channels", () => {
  test("admins create, list and delete them; secrets are sealed and never shown again; others may not", async () => {
    const v = await makeVillage(svc)
    const hook = receiver()
    const created = await channel(v.root, v.id, { kind: "webhook", target: `${hook.url}/hook`, events: ["sla_breach", "bug_created"], secret })
    expect(created).toMatchObject({ kind: "webhook", target: `${hook.url}/hook`, events: ["sla_breach", "bug_created"], has_secret: true })
    expect(created.secret).toBeUndefined()
    const generated = await channel(v.root, v.id, { kind: "webhook", target: `${hook.url}/other`, events: ["regression"] })
    expect(generated.secret).toMatch(/^whsec_/)
    await channel(v.root, v.id, { kind: "slack", target: `${hook.url}/slack`, events: ["critical_bug"] })
    await channel(v.root, v.id, { kind: "email", target: "oncall@example.com", events: ["bug_resolved"] })
    const list = await v.root.get(`/api/villages/${v.id}/notification-channels`)
    expect(list.status).toBe(200)
    expect(list.body.items.map((c: any) => c.kind)).toEqual(["webhook", "webhook", "slack", "email"])
    expect(JSON.stringify(list.body)).not.toContain(secret)
    expect(JSON.stringify(list.body)).not.toContain(generated.secret)
    const [row] = await svc.sql`select secret_sealed from notification_channels where id = ${created.id}`
    expect(Buffer.from(row.secret_sealed).toString("latin1")).not.toContain(secret)

    const maintainer = await makeUser(svc, { village: v.id, role: "maintainer" })
    const outsider = await makeUser(svc)
    expect((await maintainer.api.post(`/api/villages/${v.id}/notification-channels`, { kind: "slack", target: hook.url, events: ["bug_created"] })).status).toBe(403)
    expect((await maintainer.api.get(`/api/villages/${v.id}/notification-channels`)).status).toBe(403)
    expect((await outsider.api.get(`/api/villages/${v.id}/notification-channels`)).status).toBe(404)

    const bad = [
      { kind: "webhook", target: "ftp://example.com/x", events: ["bug_created"] },
      { kind: "email", target: "not an address", events: ["bug_created"] },
      { kind: "slack", target: hook.url, events: ["bug_created"], secret },
      { kind: "webhook", target: hook.url, events: [] },
      { kind: "webhook", target: hook.url, events: ["bug_exploded"] },
      { kind: "webhook", target: hook.url, events: ["bug_created"], secret: "short" }
    ]
    for (const body of bad) {
      const refused = await v.root.post(`/api/villages/${v.id}/notification-channels`, body)
      expect(refused.status).toBe(400)
      expect(refused.body.error.request_id).toBeString()
    }

    expect((await v.root.del(`/api/villages/${v.id}/notification-channels/${generated.id}`)).status).toBe(204)
    expect((await v.root.del(`/api/villages/${v.id}/notification-channels/${generated.id}`)).status).toBe(404)
  })
})

describe("SLA breaches", () => {
  test("two instances sweeping: each breach is notified once, to every channel that listens, signed", async () => {
    const v = await makeVillage(svc)
    const hook = receiver()
    const slack = receiver(undefined)
    await channel(v.root, v.id, { kind: "webhook", target: `${hook.url}/hook`, events: ["sla_breach"], secret })
    await channel(v.root, v.id, { kind: "slack", target: `${slack.url}/services/T0/B0/x`, events: ["sla_breach"] })
    await channel(v.root, v.id, { kind: "email", target: "oncall@example.com", events: ["sla_breach"] })
    await channel(v.root, v.id, { kind: "webhook", target: `${hook.url}/deaf`, events: ["bug_resolved"], secret })
    const bugs = await Promise.all([1, 2, 3].map(() => makeBug(v.root, v.id, v.repoId, { severity: "high" })))
    const mailBefore = smtp.mail.length
    for (const bug of bugs) await breach(bug.id)

    await waitFor(() => (hook.received.length >= 3 && slack.received.length >= 3 && smtp.mail.length - mailBefore >= 3 ? true : undefined))
    await Bun.sleep(1500) // several more sweeps by both instances
    expect(hook.received.length).toBe(3)
    expect(slack.received.length).toBe(3)
    expect(smtp.mail.length - mailBefore).toBe(3)
    expect(hook.received.every((r) => r.path === "/hook" && r.signed)).toBe(true)
    expect(new Set(hook.received.map((r) => r.json.bug.id))).toEqual(new Set(bugs.map((b) => b.id)))
    const first = hook.received[0]
    expect(first.json).toMatchObject({ event: "sla_breach", bug: { village_id: v.id, severity: "high", status: "open" } })
    expect(first.headers.get("x-bugbots-event")).toBe("sla_breach")
    expect(first.headers.get("x-bugbots-signature")).toBe(signatureOf(secret, first.body))
    expect(first.headers.get("x-bugbots-delivery")).toBe(first.json.id)
    expect(slack.received[0].json.text).toStartWith("[bugbots] SLA breached: ")
    expect(slack.received[0].json.blocks[0]).toMatchObject({ type: "section", text: { type: "mrkdwn" } })
    const mail = smtp.mail.slice(mailBefore)
    expect(mail[0].to).toEqual(["oncall@example.com"])
    expect(mail[0].raw).toContain("Subject: [bugbots] SLA breached: ")

    // A new deadline (the severity changed) can be breached again: one more notification.
    const bug = bugs[0]
    expect((await v.root.patch(`/api/bugs/${bug.id}`, { severity: "critical" })).status).toBe(200)
    await breach(bug.id)
    await waitFor(() => (hook.received.length >= 4 ? true : undefined))
    await Bun.sleep(800)
    expect(hook.received.length).toBe(4)
    expect(hook.received[3].json.bug.id).toBe(bug.id)
  })

  test("resolved bugs past their deadline are not breaches", async () => {
    const v = await makeVillage(svc)
    const hook = receiver()
    await channel(v.root, v.id, { kind: "webhook", target: hook.url, events: ["sla_breach"], secret })
    const bug = await makeBug(v.root, v.id, v.repoId, { severity: "low" })
    expect((await v.root.put(`/api/bugs/${bug.id}/status`, { status: "resolved" })).status).toBe(200)
    await breach(bug.id)
    await Bun.sleep(1000)
    expect(hook.received.length).toBe(0)
  })
})

describe("deliveries: retries, dead letters, refusals", () => {
  const breachWith = async (script: Array<number | "redirect">, kind: "webhook" | "slack" = "webhook") => {
    const v = await makeVillage(svc)
    const hook = receiver()
    hook.script.push(...script)
    const created = await channel(v.root, v.id, { kind, target: `${hook.url}/in`, events: ["sla_breach"], ...(kind === "webhook" ? { secret } : {}) })
    const bug = await makeBug(v.root, v.id, v.repoId, { severity: "medium" })
    await breach(bug.id)
    const delivery = await waitFor(async () => (await deliveries()).find((d) => d.channel_id === created.id))
    return { v, hook, channelId: created.id as string, deliveryId: delivery.id as string }
  }
  const settled = (id: string) =>
    waitFor(async () => (await deliveries()).find((d) => d.id === id && (d.status === "delivered" || d.status === "failed")))

  test("a 500 and a 429 are retried on the backoff; then delivered", async () => {
    const { hook, deliveryId } = await breachWith([500, 429])
    const done = await settled(deliveryId)
    expect(done).toMatchObject({ status: "delivered", attempts: 2, event: "sla_breach", kind: "webhook" })
    expect(hook.received.length).toBe(3)
    expect(new Set(hook.received.map((r) => r.body)).size).toBe(1)
  })

  test("out of attempts: dead-lettered (failed), listed, and a superuser's retry sends it again", async () => {
    const { hook, deliveryId } = await breachWith([503, 503, 503, 503, 503, 503])
    const dead = await settled(deliveryId)
    expect(dead).toMatchObject({ status: "failed", attempts: 3, last_error: "the target answered 503" })
    expect((await deliveries("failed")).map((d) => d.id)).toContain(deliveryId)
    expect(hook.received.length).toBe(3)
    const user = await makeUser(svc)
    expect((await user.api.post(`/api/admin/notification-deliveries/${deliveryId}/retry`)).status).toBe(403)
    expect((await user.api.get(`/api/admin/notification-deliveries`)).status).toBe(403)
    hook.script.length = 0
    const root = client(svc.baseUrl, svc.rootToken)
    const retried = await root.post(`/api/admin/notification-deliveries/${deliveryId}/retry`)
    expect(retried.status).toBe(202)
    expect(["pending", "processing", "delivered"]).toContain(retried.body.status)
    expect(await settled(deliveryId)).toMatchObject({ status: "delivered", attempts: 0 })
    expect(hook.received.length).toBe(4)
    expect((await root.post(`/api/admin/notification-deliveries/${crypto.randomUUID()}/retry`)).status).toBe(404)
  })

  test("a 4xx fails at once; a redirect is not followed", async () => {
    const gone = await breachWith([410], "slack")
    expect(await settled(gone.deliveryId)).toMatchObject({ status: "failed", attempts: 1, last_error: "the target answered 410" })
    const moved = await breachWith(["redirect"])
    expect(await settled(moved.deliveryId)).toMatchObject({ status: "failed", attempts: 1 })
    expect(moved.hook.received.map((r) => r.path)).toEqual(["/in"])
  })

  test("an SMTP server's 5xx refusal fails the email at once; its 4xx is retried", async () => {
    const v = await makeVillage(svc)
    const created = await channel(v.root, v.id, { kind: "email", target: "nobody@example.com", events: ["sla_breach"] })
    smtp.rejectNext.push(550)
    const bug = await makeBug(v.root, v.id, v.repoId, { severity: "medium" })
    await breach(bug.id)
    const delivery = await waitFor(async () => (await deliveries()).find((d) => d.channel_id === created.id))
    expect(await settled(delivery.id)).toMatchObject({ status: "failed", attempts: 1 })
    expect((await settled(delivery.id)).last_error).toContain("550")

    const busy = await makeVillage(svc)
    const later = await channel(busy.root, busy.id, { kind: "email", target: "later@example.com", events: ["sla_breach"] })
    smtp.rejectNext.push(451)
    const other = await makeBug(busy.root, busy.id, busy.repoId, { severity: "medium" })
    await breach(other.id)
    const retried = await waitFor(async () => (await deliveries()).find((d) => d.channel_id === later.id))
    expect(await settled(retried.id)).toMatchObject({ status: "delivered", attempts: 1 })
    expect(smtp.mail.some((m) => m.to.includes("later@example.com"))).toBe(true)
  })
})

describe("targets on the service's own network", () => {
  let guarded: TestService
  beforeAll(async () => {
    guarded = await startService({ env: { BUGBOTS_SECRETS_KEY: "k", BUGBOTS_SLA_SWEEP_INTERVAL: "200 millis" } })
  })
  afterAll(() => guarded.stop())

  test("without BUGBOTS_ALLOW_PRIVATE_TARGETS, loopback, private, link-local and unique-local targets are refused with 400", async () => {
    const v = await makeVillage(guarded)
    const hook = receiver()
    for (const target of [
      hook.url, "http://localhost:8080/x", "http://[::1]/x", "http://10.0.0.7/x", "http://192.168.1.1/x", "http://172.20.0.1/x",
      "http://169.254.169.254/latest/meta-data", "http://[fd00::1]/x", "http://[fe80::1]/x", "http://0.0.0.0/x", "http://[::ffff:127.0.0.1]/x"
    ]) {
      const refused = await v.root.post(`/api/villages/${v.id}/notification-channels`, { kind: "webhook", target, events: ["bug_created"], secret })
      expect(refused.status).toBe(400)
      expect(refused.body.error.code).toBe("UNSAFE_TARGET")
    }
    expect(hook.received.length).toBe(0)
  })

  test("and again at delivery: a channel whose host now resolves to loopback is never contacted", async () => {
    const v = await makeVillage(guarded)
    const hook = receiver()
    // As if the host's DNS had changed since the channel was created.
    await guarded.sql`
      insert into notification_channels (village_id, kind, target, events) values (${v.id}, 'slack', ${`${hook.url}/x`}, '{sla_breach}')`
    const bug = await makeBug(v.root, v.id, v.repoId, { severity: "low" })
    await guarded.sql`update bug_bots set sla_due_at = now() - interval '1 second' where id = ${bug.id}`
    const root = client(guarded.baseUrl, guarded.rootToken)
    const failed = await waitFor(async () => {
      const list = await root.get(`/api/admin/notification-deliveries?status=failed`)
      return list.body.items.find((d: any) => d.bug_id === bug.id)
    })
    expect(failed.last_error).toContain("loopback")
    expect(failed.attempts).toBe(1)
    expect(hook.received.length).toBe(0)
  })
})
