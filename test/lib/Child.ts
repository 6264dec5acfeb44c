import { randomBytes } from "node:crypto"
import * as path from "node:path"

/** A free TCP port on the loopback interface (bound, read, released). */
export const freePort = () => {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
  const port = listener.port
  listener.stop(true)
  return port
}

/**
 * A free port below Linux's ephemeral range (32768–60999), for a server that must come back on the
 * same port: between the two, no outgoing connection can take it as its source port.
 */
export const restartablePort = () => {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000)
    try {
      Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true)
      return port
    } catch {
      // taken: another
    }
  }
}

/** Waits until the service at `baseUrl`, run by `child`, answers 200 on `/readyz`. */
export const untilReady = async (baseUrl: string, child: Bun.Subprocess, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`)
    const ok = await fetch(`${baseUrl}/readyz`).then((r) => r.ok, () => false)
    if (ok) return
    await Bun.sleep(50)
  }
  throw new Error(`the service at ${baseUrl} was not ready within ${timeoutMs} ms`)
}

export interface ChildService {
  readonly baseUrl: string
  readonly rootToken: string
  readonly process: Bun.Subprocess
  /** Waits until `/readyz` answers 200. */
  readonly ready: (timeoutMs?: number) => Promise<void>
  readonly kill: (signal?: NodeJS.Signals) => Promise<void>
}

export interface SpawnOptions {
  readonly stdout?: "inherit" | "pipe"
  /** A fixed port (`restartablePort()`), for a service restarted where its clients left it. */
  readonly port?: number
  /** The bootstrap superuser's token; a restarted service is given the one it had. */
  readonly rootToken?: string
  /** Flags for Bun itself, before the script (a bench's `--cpu-prof-md`). */
  readonly bunFlags?: ReadonlyArray<string>
}

/** The service as a separate `bun run src/main.ts` process (to kill it for real), against `databaseUrl`. */
export const spawnService = (databaseUrl: string, env: Record<string, string> = {}, options: SpawnOptions = {}): ChildService => {
  const port = options.port ?? freePort()
  const rootToken = options.rootToken ?? `root_${randomBytes(16).toString("hex")}`
  const child = Bun.spawn(["bun", ...(options.bunFlags ?? []), "run", path.resolve(import.meta.dir, "../../src/main.ts")], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: "127.0.0.1",
      BUGBOTS_BOOTSTRAP_TOKEN: rootToken,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
      ...env
    },
    stdout: options.stdout ?? "inherit",
    stderr: "inherit"
  })
  const baseUrl = `http://127.0.0.1:${port}`
  return {
    baseUrl,
    rootToken,
    process: child,
    ready: (timeoutMs) => untilReady(baseUrl, child, timeoutMs),
    kill: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await child.exited
    }
  }
}
