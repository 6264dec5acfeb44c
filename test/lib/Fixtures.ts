import { expect } from "bun:test"
import { client, type Client } from "./Client.js"
import type { TestService } from "./Service.js"

let counter = 0
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`

/** A user with a token, optionally given a role in a village. */
export const makeUser = async (svc: TestService, role?: { village: string; role: string }) => {
  const root = client(svc.baseUrl, svc.rootToken)
  const user = await root.post("/api/users", { login: unique("user") })
  expect(user.status).toBe(201)
  const token = await root.post(`/api/users/${user.body.id}/tokens`, { name: "test" })
  expect(token.status).toBe(201)
  if (role) {
    const membership = await root.put(`/api/villages/${role.village}/members/${user.body.id}`, { role: role.role })
    expect(membership.status).toBe(200)
  }
  return { id: user.body.id as string, token: token.body.token as string, api: client(svc.baseUrl, token.body.token) }
}

/** A village with one repo, created by the superuser. */
export const makeVillage = async (svc: TestService) => {
  const root = client(svc.baseUrl, svc.rootToken)
  const village = await root.post("/api/villages", { name: unique("village") })
  expect(village.status).toBe(201)
  const repo = await root.post(`/api/villages/${village.body.id}/repos`, { full_name: `${unique("org")}/${unique("repo")}` })
  expect(repo.status).toBe(201)
  return { id: village.body.id as string, repoId: repo.body.id as string, root }
}

/** An agent of the village with its token and a client acting as it. */
export const makeAgent = async (svc: TestService, villageId: string) => {
  const root = client(svc.baseUrl, svc.rootToken)
  const created = await root.post(`/api/villages/${villageId}/agents`, { name: unique("agent") })
  expect(created.status).toBe(201)
  return { id: created.body.agent.id as string, token: created.body.token as string, api: client(svc.baseUrl, created.body.token) }
}

export const makeBug = async (api: Client, villageId: string, repoId: string, fields: Record<string, unknown> = {}) => {
  const bug = await api.post(`/api/villages/${villageId}/bugs`, { repo_id: repoId, title: unique("bug"), ...fields })
  expect(bug.status).toBe(201)
  return bug.body
}
