/**
 * `bun run test`: every test against a real PostgreSQL. `TEST_DATABASE_URL` when set; otherwise an
 * embedded server kept in `.data/test-pg`, started here and stopped at the end. Prints the closing
 * line `N passed, N failed` that CI reads.
 */
import { Effect, Option, Redacted } from "effect"
import { embeddedPostgres } from "../src/Sql/Embedded.js"

const run = Effect.gen(function* () {
  const url = Option.fromNullable(process.env.TEST_DATABASE_URL)
  const databaseUrl = Option.isSome(url)
    ? url.value
    : Redacted.value(yield* embeddedPostgres({ dir: ".data/test-pg", port: Number(process.env.TEST_EMBEDDED_PG_PORT ?? 54330) }))
  // Tests boot real services and processes: allow each a minute.
  const child = Bun.spawn(["bun", "test", "--timeout=60000", ...process.argv.slice(2)], {
    env: { ...process.env, TEST_DATABASE_URL: databaseUrl },
    stdout: "pipe",
    stderr: "pipe"
  })
  let output = ""
  const pump = async (stream: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream) => {
    const decoder = new TextDecoder()
    const reader = stream.getReader()
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      const text = decoder.decode(chunk.value, { stream: true })
      output += text
      sink.write(text)
    }
  }
  yield* Effect.promise(() => Promise.all([pump(child.stdout, process.stdout), pump(child.stderr, process.stderr), child.exited]))
  const count = (word: string) => Number(output.match(new RegExp(`^\\s*(\\d+) ${word}$`, "m"))?.[1] ?? 0)
  const passed = count("pass")
  const failed = count("fail")
  // Said again at the end, where it is seen: tests that did not run because a browser is missing.
  const skippedBrowser = output.match(/^.*browser tests SKIPPED.*$/m)?.[0]
  if (skippedBrowser !== undefined) console.log(skippedBrowser)
  console.log(`${passed} passed, ${failed} failed`)
  return child.exitCode === 0 && failed === 0 && passed > 0 ? 0 : 1
})

const code = await Effect.runPromise(Effect.scoped(run))
process.exit(code)
