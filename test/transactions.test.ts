import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { client, type Client } from "./lib/Client.js"
import { makeAgent, makeBug, makeVillage } from "./lib/Fixtures.js"
import { startService, type TestService } from "./lib/Service.js"

let svc: TestService
let root: Client

beforeAll(async () => {
  svc = await startService()
  root = client(svc.baseUrl, svc.rootToken)
  // A real failure midway through a multi-row change: the database refuses the second write.
  const refuse = (table: string, condition: string) => `
    create function refuse_${table}() returns trigger language plpgsql as $$
    begin
      if ${condition} then raise exception 'refused by test trigger'; end if;
      return new;
    end $$;
    create trigger boom before insert on ${table} for each row execute function refuse_${table}();`
  await svc.sql.unsafe(
    [
      refuse("bug_bot_events", "new.note = 'boom'"),
      refuse("village_access", "exists (select 1 from villages where id = new.village_id and name = 'boom')"),
      refuse("api_tokens", "exists (select 1 from agents where id = new.agent_id and name = 'boom')")
    ].join("\n")
  )
})
afterAll(() => svc.stop())

const count = async (table: string) => (await svc.sql.unsafe(`select count(*)::int as n from ${table}`))[0].n as number

describe("a failure midway leaves nothing behind", () => {
  test("a status change whose lifecycle event fails changes neither the bug nor the log", async () => {
    const village = await makeVillage(svc)
    const bug = await makeBug(root, village.id, village.repoId)
    const events = await count("bug_bot_events")
    const realtime = await count("realtime_events")
    const reply = await root.put(`/api/bugs/${bug.id}/status`, { status: "resolved", reason: "boom" })
    expect(reply.status).toBe(500)
    expect(reply.body.error.code).toBe("INTERNAL")
    const after = await root.get(`/api/bugs/${bug.id}`)
    expect(after.body).toMatchObject({ status: "open", version: 1, resolved_at: null })
    expect(await count("bug_bot_events")).toBe(events)
    expect(await count("realtime_events")).toBe(realtime)
  })

  test("a village whose admin membership fails is not created", async () => {
    const villages = await count("villages")
    const reply = await root.post("/api/villages", { name: "boom" })
    expect(reply.status).toBe(500)
    expect(await count("villages")).toBe(villages)
  })

  test("an agent whose token fails is not created", async () => {
    const village = await makeVillage(svc)
    const agents = await count("agents")
    const reply = await root.post(`/api/villages/${village.id}/agents`, { name: "boom" })
    expect(reply.status).toBe(500)
    expect(await count("agents")).toBe(agents)
    expect((await makeAgent(svc, village.id)).id).toBeString()
  })
})
