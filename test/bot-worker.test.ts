import { afterAll, beforeAll, expect, test } from "bun:test"
import * as path from "node:path"
import { freePort, untilReady } from "./lib/Child.js"
import { appEnv, failures, type GitHubApi, startGitHubApi } from "./lib/GitHubApi.js"
import { actionRow, enqueueAction, internalSecret } from "./lib/Internal.js"
import { startService, type TestService } from "./lib/Service.js"

/** examples/bot-worker.ts, a separate process, against the service's v2 protocol and the GitHub stand-in (contract §10). */
let svc: TestService
let github: GitHubApi

beforeAll(async () => {
  github = await startGitHubApi()
  svc = await startService({ env: { BUGBOTS_INTERNAL_SECRET: internalSecret, BUGBOTS_EXECUTOR: "off" } })
})
afterAll(async () => {
  await svc.stop()
  github.stop()
})

const runWorker = async () => {
  const child = Bun.spawn(["bun", "run", path.join(import.meta.dir, "..", "examples", "bot-worker.ts")], {
    env: {
      ...process.env,
      ...appEnv(github),
      BUGBOTS_URL: svc.baseUrl,
      BUGBOTS_INTERNAL_SECRET: internalSecret,
      BOT_WORKER_EXIT_WHEN_IDLE: "true"
    },
    stdout: "pipe",
    stderr: "pipe"
  })
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
  return { code, lines: stdout.trim().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l)), stderr }
}

test("the reference worker claims, executes on GitHub and reports each action", async () => {
  const upsert = await enqueueAction(svc.sql, { repo_full_name: "acme/web", number: 4, marker: "gate", body: "please /verify" })
  const close = await enqueueAction(svc.sql, { type: "CLOSE_PR_WITH_COMMENT", repo_full_name: "acme/web", number: 5, marker: "gate", body: "closed" })
  github.fail("POST", /^\/repos\/acme\/api\/issues\/6\/comments$/, failures.unprocessable)
  const refused = await enqueueAction(svc.sql, { repo_full_name: "acme/api", number: 6 })
  github.fail("POST", /^\/repos\/acme\/api\/issues\/7\/comments$/, failures.tooManyRequests(120))
  const limited = await enqueueAction(svc.sql, { repo_full_name: "acme/api", number: 7 })

  const run = await runWorker()
  expect(run.stderr).toBe("")
  expect(run.code).toBe(0)
  expect(run.lines.at(-1)).toEqual({ done: true, SUCCEEDED: 2, RETRYABLE_FAILURE: 1, FAILED: 1, LEASE_LOST: 0 })

  expect((await actionRow(svc.sql, upsert.id))!.status).toBe("done")
  expect((await actionRow(svc.sql, close.id))!.status).toBe("done")
  expect((await actionRow(svc.sql, refused.id))).toMatchObject({ status: "failed", attempts: 1 })
  const retry = (await actionRow(svc.sql, limited.id))!
  expect(retry).toMatchObject({ status: "pending", attempts: 1 })
  expect(new Date(retry.run_at).getTime()).toBeGreaterThan(Date.now() + 100_000)
  expect(github.comments("acme/web", 4).map((c) => c.body)).toEqual(["<!-- bugbots:gate -->\nplease /verify"])
  expect(github.pull("acme/web", 5).state).toBe("closed")

  // Run again: nothing is due, nothing is done twice.
  const again = await runWorker()
  expect(again.lines).toEqual([{ done: true, SUCCEEDED: 0, RETRYABLE_FAILURE: 0, FAILED: 0, LEASE_LOST: 0 }])
  expect(github.comments("acme/web", 4)).toHaveLength(1)
})

/** The service as a process of its own, its log lines read back. */
const serviceLog = async (env: Record<string, string>) => {
  const port = freePort()
  const child = Bun.spawn(["bun", "run", path.join(import.meta.dir, "..", "src", "main.ts")], {
    env: { ...process.env, DATABASE_URL: svc.databaseUrl, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdout: "pipe",
    stderr: "pipe"
  })
  await untilReady(`http://127.0.0.1:${port}`, child)
  await Bun.sleep(1500)
  child.kill("SIGTERM")
  const [stdout] = await Promise.all([new Response(child.stdout).text(), child.exited])
  return stdout.split("\n").filter((line) => line.includes("bot-action executor"))
}

test("without App credentials the executor does not start and says so once; BUGBOTS_EXECUTOR=off says that instead", async () => {
  const bare = await serviceLog({ BUGBOTS_INTERNAL_SECRET: internalSecret })
  expect(bare).toHaveLength(1)
  expect(bare[0]).toContain("not started")
  expect(bare[0]).toContain("GITHUB_APP_ID")
  const off = await serviceLog({ ...appEnv(github), BUGBOTS_EXECUTOR: "off" })
  expect(off).toHaveLength(1)
  expect(off[0]).toContain("BUGBOTS_EXECUTOR=off")
})
