/**
 * A bot worker outside the service (contract §10, the signed internal v2 protocol): claims bot
 * actions, executes each on GitHub as the App's installation, and reports the outcome. It keeps no
 * state: everything it needs is in the action. Run as many as you like beside the service (with
 * `BUGBOTS_EXECUTOR=off` there, or not: they share the outbox).
 *
 *   BUGBOTS_URL=http://127.0.0.1:3000 BUGBOTS_INTERNAL_SECRET=… \
 *   GITHUB_APP_ID=… GITHUB_APP_PRIVATE_KEY=@app.pem bun run examples/bot-worker.ts
 *
 * Optional: GITHUB_API_URL (default https://api.github.com), BUGBOTS_GITHUB_WRITE_INTERVAL (default 1 second), BOT_WORKER_BATCH (actions per claim,
 * default 10), BOT_WORKER_LEASE_SECONDS (default 60), BOT_WORKER_IDLE (the wait when nothing is due,
 * default 2 seconds), BOT_WORKER_EXIT_WHEN_IDLE=true (stop at the first empty claim, printing a JSON
 * summary). Each action is logged as one JSON line.
 */
import { BunRuntime } from "@effect/platform-bun"
import { Config, Console, Duration, Effect, Redacted } from "effect"
import { execute } from "../src/BotActions/Execute.js"
import { signedHeaders } from "../src/BotActions/Signature.js"
import type { BotActionPayload, ClaimedAction } from "../src/Domain/BotAction.js"
import { makeGitHubApp, readPrivateKey } from "../src/GitHub/Client.js"

const main = Effect.gen(function* () {
  const url = (yield* Config.string("BUGBOTS_URL").pipe(Config.withDefault("http://127.0.0.1:3000"))).replace(/\/+$/, "")
  const secret = Redacted.value(yield* Config.redacted("BUGBOTS_INTERNAL_SECRET"))
  const github = makeGitHubApp({
    appId: yield* Config.string("GITHUB_APP_ID"),
    privateKey: readPrivateKey(Redacted.value(yield* Config.redacted("GITHUB_APP_PRIVATE_KEY"))),
    baseUrl: yield* Config.string("GITHUB_API_URL").pipe(Config.withDefault("https://api.github.com")),
    writeInterval: yield* Config.duration("BUGBOTS_GITHUB_WRITE_INTERVAL").pipe(Config.withDefault(Duration.seconds(1)))
  })
  const batch = yield* Config.integer("BOT_WORKER_BATCH").pipe(Config.withDefault(10))
  const leaseSeconds = yield* Config.integer("BOT_WORKER_LEASE_SECONDS").pipe(Config.withDefault(60))
  const idle = yield* Config.duration("BOT_WORKER_IDLE").pipe(Config.withDefault(Duration.seconds(2)))
  const exitWhenIdle = yield* Config.boolean("BOT_WORKER_EXIT_WHEN_IDLE").pipe(Config.withDefault(false))

  /** A signed POST of the protocol; its JSON answer, or a failure naming the status. */
  const post = (path: string, body: unknown) =>
    Effect.tryPromise(async () => {
      const text = JSON.stringify(body)
      const response = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...signedHeaders(secret, text) },
        body: text
      })
      const answer = (await response.json()) as unknown
      if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(answer)}`)
      return answer
    })

  const counts = { SUCCEEDED: 0, RETRYABLE_FAILURE: 0, FAILED: 0, LEASE_LOST: 0 }

  const work = (action: ClaimedAction) =>
    Effect.gen(function* () {
      const payload: BotActionPayload = {
        type: action.type,
        installation_id: action.installation_id,
        repo_full_name: action.repo_full_name,
        number: action.number,
        marker: action.marker,
        body: action.body
      }
      const done = yield* execute(github, payload)
      const report = { lease_token: action.lease_token, ...done, result: undefined }
      // A lease that ran out meanwhile is someone else's now: the answer is 409 and nothing changes.
      const settled = yield* post(`/internal/v2/bot-actions/${action.id}/result`, report).pipe(
        Effect.as(done.outcome),
        Effect.catchAll((e) => (e.message.includes(" 409 ") ? Effect.succeed("LEASE_LOST" as const) : Effect.fail(e)))
      )
      counts[settled]++
      yield* Console.log(JSON.stringify({ id: action.id, type: action.type, attempt: action.attempt, outcome: settled }))
    })

  for (;;) {
    const claimed = (yield* post("/internal/v2/bot-actions/claim", { limit: batch, lease_seconds: leaseSeconds })) as {
      readonly actions: ReadonlyArray<ClaimedAction>
    }
    if (claimed.actions.length === 0) {
      if (exitWhenIdle) return yield* Console.log(JSON.stringify({ done: true, ...counts }))
      yield* Effect.sleep(idle)
      continue
    }
    yield* Effect.forEach(claimed.actions, work, { concurrency: 4, discard: true })
  }
})

BunRuntime.runMain(main)
