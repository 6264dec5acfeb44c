import { describe, expect, test } from "bun:test"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { isAlive } from "../src/Sql/Embedded.js"
import { spawnService } from "./lib/Child.js"

const start = async (dataDir: string, pgPort: number) => {
  const child = spawnService("", { BUGBOTS_DATA_DIR: dataDir, BUGBOTS_EMBEDDED_PG_PORT: String(pgPort) })
  await child.ready(60_000)
  return child
}

describe("embedded PostgreSQL (no DATABASE_URL)", () => {
  test("a server orphaned by kill -9 is detected and replaced at the next start", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bugbots-embedded-"))
    fs.chmodSync(dataDir, 0o755)
    const pgPort = 56000 + Math.floor(Math.random() * 1000)
    const first = await start(dataDir, pgPort)
    const pidFile = path.join(dataDir, "pg", "postmaster.pid")
    const orphan = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0])
    await first.kill("SIGKILL")
    expect(isAlive(orphan)).toBe(true)
    const second = await start(dataDir, pgPort)
    try {
      expect(isAlive(orphan)).toBe(false)
      const current = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0])
      expect(current).not.toBe(orphan)
    } finally {
      await second.kill()
      const left = Number(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, "utf8").split("\n")[0] : 0)
      if (left > 0 && isAlive(left)) process.kill(left, "SIGINT")
    }
  }, 120_000)

  test.if(process.getuid?.() === 0)("as root, a data directory the postgres user cannot reach is refused with a clear message", async () => {
    const closed = fs.mkdtempSync(path.join(os.tmpdir(), "bugbots-closed-"))
    fs.chmodSync(closed, 0o700)
    const child = Bun.spawn(["bun", "run", "src/main.ts"], {
      cwd: path.resolve(import.meta.dir, ".."),
      env: { ...process.env, DATABASE_URL: "", BUGBOTS_DATA_DIR: path.join(closed, "data"), PORT: "0", LOG_LEVEL: "error" },
      stdout: "pipe",
      stderr: "pipe"
    })
    expect(await child.exited).not.toBe(0)
    const output = (await new Response(child.stdout).text()) + (await new Response(child.stderr).text())
    expect(output).toContain(`cannot enter ${closed}`)
  })
})
