import { describe, expect, test } from "bun:test"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { isAlive } from "../src/Sql/Embedded.js"
import { freePort, restartablePort, spawnService, untilReady } from "./lib/Child.js"

const repo = path.resolve(import.meta.dir, "..")

const start = async (dataDir: string, pgPort: number) => {
  const child = spawnService("", { BUGBOTS_DATA_DIR: dataDir, BUGBOTS_EMBEDDED_PG_PORT: String(pgPort) })
  await child.ready(60_000)
  return child
}

/** The processes `pid` started (Linux lists them in /proc). */
const childrenOf = (pid: number) =>
  fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter((id) => id !== "").map(Number)

/** `bun run start` in `checkout` as a user types it, with no DATABASE_URL; resolves once `/readyz` answers 200. */
const startCheckout = async (checkout: string, pgPort: number) => {
  const port = freePort()
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    HOST: "127.0.0.1",
    BUGBOTS_EMBEDDED_PG_PORT: String(pgPort),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error"
  }
  delete env.DATABASE_URL
  delete env.BUGBOTS_DATA_DIR
  const wrapper = Bun.spawn(["bun", "run", "start"], { cwd: checkout, env, stdout: "inherit", stderr: "inherit" })
  await untilReady(`http://127.0.0.1:${port}`, wrapper, 60_000)
  // `bun run start` runs the service as its child, which runs the postmaster as its own.
  const [service] = childrenOf(wrapper.pid)
  const [postmaster] = childrenOf(service).filter((pid) => fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "postgres")
  return { wrapper, service, postmaster }
}

describe("embedded PostgreSQL (no DATABASE_URL)", () => {
  test("a server orphaned by kill -9 is detected and replaced at the next start", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bugbots-embedded-"))
    fs.chmodSync(dataDir, 0o755)
    const pgPort = restartablePort()
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
      if (left > 0 && isAlive(left)) process.kill(left, "SIGKILL")
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }, 120_000)

  test("from a checkout in a private directory (mktemp -d, 0700), bun run start serves, and replaces its server orphaned by kill -9", async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "bugbots-private-"))
    const checkout = path.join(home, "bugbots")
    const pgPort = restartablePort()
    const pids: Array<number> = []
    let dataDir: string | undefined
    try {
      fs.cpSync(repo, checkout, { recursive: true, filter: (source) => ![".git", ".data", "node_modules"].includes(path.relative(repo, source)) })
      const install = Bun.spawnSync(["bun", "install", "--frozen-lockfile", "--production"], { cwd: checkout, stdout: "ignore", stderr: "inherit" })
      expect(install.exitCode).toBe(0)

      const first = await startCheckout(checkout, pgPort)
      pids.push(first.service, first.postmaster)
      dataDir = fs.readlinkSync(`/proc/${first.postmaster}/cwd`)
      process.kill(first.service, "SIGKILL")
      await first.wrapper.exited
      expect(isAlive(first.postmaster)).toBe(true)

      const second = await startCheckout(checkout, pgPort)
      pids.push(second.service, second.postmaster)
      expect(isAlive(first.postmaster)).toBe(false)
      expect(fs.readlinkSync(`/proc/${second.postmaster}/cwd`)).toBe(dataDir)
      process.kill(second.service, "SIGTERM")
      await second.wrapper.exited
      expect(isAlive(second.postmaster)).toBe(false)
      expect(fs.statSync(home).mode & 0o777).toBe(0o700)
    } finally {
      for (const pid of pids) if (isAlive(pid)) process.kill(pid, "SIGKILL")
      fs.rmSync(home, { recursive: true, force: true })
      if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }, 90_000)
})
