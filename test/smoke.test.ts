import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { client } from "./lib/Client.js"
import { makeVillage, makeBug } from "./lib/Fixtures.js"
import { startService, type TestService } from "./lib/Service.js"

let svc: TestService
beforeAll(async () => {
  svc = await startService()
})
afterAll(() => svc.stop())

describe("smoke", () => {
  test("a bug is created and read back", async () => {
    const v = await makeVillage(svc)
    const bug = await makeBug(v.root, v.id, v.repoId, { severity: "high" })
    const read = await client(svc.baseUrl, svc.rootToken).get(`/api/bugs/${bug.id}`)
    expect(read.status).toBe(200)
    expect(read.body.severity).toBe("high")
    expect(read.body.version).toBe(1)
  })
})
