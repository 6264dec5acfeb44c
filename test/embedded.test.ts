import { describe, expect, test } from "bun:test"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dir, "..")

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const start = async (dataDir: string, pgPort: number) => {
  const probe = Bun.serve({ port: 0, fetch: () => new Response() })
  const port = probe.port!
  probe.stop(true)
  const child = Bun.spawn(["bun", "run", "src/main.ts"], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: "", BUGBOTS_DATA_DIR: dataDir, BUGBOTS_EMBEDDED_PG_PORT: String(pgPort), PORT: String(port), LOG_LEVEL: "error" },
    stdout: "ignore",
    stderr: "ignore"
  })
  for (let i = 0; i < 600; i++) {
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) return child
    await Bun.sleep(100)
  }
  child.kill("SIGKILL")
  throw new Error("the service did not become ready on its embedded PostgreSQL")
}

describe("embedded PostgreSQL (no DATABASE_URL)", () => {
  test("a server orphaned by kill -9 is detected and replaced at the next start", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bugbots-embedded-"))
    fs.chmodSync(dataDir, 0o755)
    const pgPort = 56000 + Math.floor(Math.random() * 1000)
    const first = await start(dataDir, pgPort)
    const pidFile = path.join(dataDir, "pg", "postmaster.pid")
    const orphan = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0])
    first.kill("SIGKILL")
    await first.exited
    expect(alive(orphan)).toBe(true)
    const second = await start(dataDir, pgPort)
    try {
      expect(alive(orphan)).toBe(false)
      const current = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0])
      expect(current).not.toBe(orphan)
    } finally {
      second.kill("SIGTERM")
      await second.exited
      const left = Number(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, "utf8").split("\n")[0] : 0)
      if (left > 0 && alive(left)) process.kill(left, "SIGINT")
    }
  }, 120_000)
})
