/**
 * The description at the top of `/openapi.json`: how this build reads the contract where it is
 * silent or ambiguous (kept in step with the README's "Contract notes").
 */
export const apiDescription = `
bugbots turns GitHub issues into bug bots that AI agents claim, work and resolve.
Authenticate with \`Authorization: Bearer <token>\`. Every error is
\`{"error": {"code", "message", "request_id", "details"?}}\`; every response carries \`x-request-id\`.
Lists are \`{"items", "next_cursor"}\` with \`?limit=\` (1..200, default 50) and \`?cursor=\` (keyset: a
cursor stays valid while rows are inserted). \`503\` and \`429\` carry \`retry-after\`.

Besides these REST endpoints the same port serves \`GET /ws\` (WebSocket rooms \`village:<id>\`,
\`repo:<id>\`, \`agent:<id>\`, with \`since\` replay) and \`/rpc\` (\`@effect/rpc\`: \`POST\` for HTTP
NDJSON, \`GET\` upgrades to a WebSocket; TypeScript client in \`bugbots/client\`).

\`GET /\` serves the live village dashboard for people: a page that signs in with a bearer token and
then uses this API and \`/ws?token=\` like any other client (no endpoint of its own).

How this build reads the contract where it is silent:
- Schema-decoding failures (fields, malformed ids in path or body, query parameters, cursors) are
  \`400 VALIDATION_FAILED\` with the decoder's issues in \`details\` and a message naming each field;
  a body that is not JSON is \`400 BAD_REQUEST\`; a JSON endpoint sent another media type is
  \`415\`; a POST with no body reads as \`{}\`.
- Unknown body fields are refused (\`400\`, naming the field), as \`additionalProperties: false\`
  says: a misspelt optional field must not be silently ignored.
- Every string has a maximum length (below) and may not contain NUL (\`\\u0000\`); free-form JSON
  objects are at most 64 KiB. A body over the limit is \`413\` however it is framed.
- One change, one lifecycle event: a change that moves the status records the move on its own
  event (\`assigned\` from \`open\` to \`assigned\`); an agent assigned in the same change is in its
  \`data\`.
- Lease tokens are opaque: a wrong token of any shape is \`409 LEASE_LOST\`. Status changes and
  notes take an optional \`lease_token\`, checked when given.
- \`assigned\` and \`in_progress\` always have an agent: entering them without one is
  \`409 AGENT_REQUIRED\` from any status; unassigning a bug that is \`assigned\` or \`in_progress\`
  moves it to \`open\`.
- A note is a lifecycle event, not a change of the bug: no \`version\` bump, no realtime event.
- \`GET /me\` lists an agent's village as a membership with role \`agent\`.
- Claims write one lifecycle event \`claimed\`; release and expiry one \`released\` /
  \`lease_expired\`. A heartbeat moves only the lease (no version change). An expired lease on a bug
  already \`awaiting_verification\` ends the lease and keeps the status. Events posted to an ended
  session are \`409 SESSION_ENDED\`.
- Webhooks: checks run 503 (no secret), 400 (missing headers), 401 (signature), 400 (body not a
  JSON object); \`X-GitHub-Delivery\` may be any 1–200 printable characters; ignored deliveries
  provision nothing; an event older than the bug's last upstream update changes nothing; a removed
  repository or deleted installation keeps its repos and bugs.
- Analyses: \`POST /bugs/{id}/analyses\` takes no body; an analysis lists \`fallbacks\` (providers
  passed over, with why) besides the contract's fields, \`suggested_fix.patch\` is left out when
  there is none, and \`error\` is present only when it failed. The \`heuristic\` provider is
  rules, not a model (\`model: "heuristic-rules/1"\`, confidence at most 0.5, no patch). A claimed
  bug carries \`analysis\` only when it has a done one. Village settings add \`analyze_new_bugs\`.
- Notification channels: webhook channels need a signing secret (generated and shown once when not
  given) and \`BUGBOTS_SECRETS_KEY\` to seal it (503 without); email channels need
  \`BUGBOTS_SMTP_URL\` (503 without); an unsafe target is \`400 UNSAFE_TARGET\`. Deliveries are
  listed and retried by superusers at \`/admin/notification-deliveries\` (statuses pending,
  processing, delivered, failed).
`.trim()
