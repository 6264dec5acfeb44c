import type { Severity } from "../Domain/Bug.js"
import { AnalysisAnswer, type Risk } from "../Domain/Analysis.js"

/**
 * The `heuristic` provider: deterministic, offline, always available. It reads the exception type,
 * the message and the frames and names the class of failure they look like. It cannot read code,
 * so it never knows the root cause: its root cause says where the failure surfaced and what that
 * class of failure usually means, its confidence stays low (at most 0.5), and it writes no patch.
 */

export interface EvidenceFrame {
  readonly filename: string | null
  readonly module: string | null
  readonly function: string | null
  readonly lineno?: number | null
  readonly in_app: boolean | null
}

/** What the heuristic looks at: the latest exception when there is one, else the bug's own words. */
export interface Evidence {
  readonly title: string
  readonly description: string | null
  readonly severity: Severity | null
  readonly exception: { readonly type: string; readonly value: string; readonly frames: ReadonlyArray<EvidenceFrame> } | null
}

export const heuristicModel = "heuristic-rules/1"

interface Rule {
  readonly classification: string
  /** Matched on the exception type (JS, Python, JVM, .NET names): the stronger sign. */
  readonly type?: RegExp
  /** Matched on the message (and the type's text when there is no exception). */
  readonly message?: RegExp
  readonly risk: Risk
  readonly meaning: string
  readonly fix: string
}

/** First match wins: the specific classes come before the broad ones (a TypeError reading null is null_reference, not type_error). */
const rules: ReadonlyArray<Rule> = [
  {
    classification: "out_of_memory",
    type: /OutOfMemoryError|^MemoryError$|OutOfMemoryException|InsufficientMemory/,
    message: /heap out of memory|allocation failed|out of memory|cannot allocate memory|ENOMEM|GC overhead limit exceeded/i,
    risk: "high",
    meaning: "the process ran out of memory: usually unbounded growth (a cache, a queue, a result set read whole) or a limit set too low",
    fix: "Find what grows without bound (heap profile at the failing frame), stream or page the data, bound caches and queues, then size the memory limit"
  },
  {
    classification: "stack_overflow",
    type: /StackOverflowError|RecursionError|StackOverflowException/,
    message: /maximum call stack size exceeded|maximum recursion depth exceeded|too much recursion|stack overflow/i,
    risk: "high",
    meaning: "unbounded recursion: a function calls itself (directly or in a cycle) without reaching its base case, often on cyclic data",
    fix: "Find the cycle in the repeated frames, add or fix the base case (or a visited set for cyclic data), or make the recursion iterative"
  },
  {
    classification: "null_reference",
    type: /NullPointerException|NullReferenceException|KotlinNullPointerException/,
    message:
      /cannot (read|set) propert(y|ies) (\S+ )?of (undefined|null)|undefined is not an object|null is not an object|is (undefined|null)$|because .* is null|'NoneType' object (has no attribute|is not subscriptable|is not iterable|is not callable)|of null object reference|null pointer/im,
    risk: "medium",
    meaning: "a value that was null or undefined was used as an object: something expected to be set (a lookup, an optional field, an async result) was not",
    fix: "Find where the value comes from and handle its absence there (a guard, a default, or an error that says what is missing) rather than only at the crash site"
  },
  {
    classification: "timeout",
    type: /Timeout|TimedOut|DeadlineExceeded/i,
    message: /time[sd]? ?out|ETIMEDOUT|ESOCKETTIMEDOUT|deadline exceeded|statement timeout|lock wait timeout|canceling statement due to statement timeout/i,
    risk: "medium",
    meaning: "an operation waited longer than its limit: a slow dependency, a lock, or a query or call that grew with the data",
    fix: "Find which call timed out (the failing frame), check that dependency's latency and locks, add a bounded retry with backoff where the call is idempotent, and fix the slow path"
  },
  {
    classification: "connection_refused",
    type: /ConnectionRefused|ConnectException|ECONNREFUSED|ConnectionError|ServiceUnavailable/,
    message: /ECONNREFUSED|connection refused|ECONNRESET|connection reset|EHOSTUNREACH|ENOTFOUND|getaddrinfo|no route to host|could not connect|failed to connect|Name or service not known/i,
    risk: "medium",
    meaning: "a network dependency was not reachable: it was down, restarting, or the address or port configured is wrong",
    fix: "Check the dependency named in the message is up and the configured host and port are right; retry connection failures with backoff and surface them as a 503"
  },
  {
    classification: "permission",
    type: /PermissionError|SecurityException|AccessDenied|Unauthorized|Forbidden|PermissionDenied/,
    message: /EACCES|EPERM|permission denied|access denied|access is denied|not permitted|forbidden|unauthori[sz]ed|insufficient privileges/i,
    risk: "medium",
    meaning: "the code was not allowed to do what it tried: a file or socket permission, a database grant, or credentials that are missing, expired or too narrow",
    fix: "Find which resource was refused (the message names it), check the identity the process runs as and its grants or credentials, and fix the permission rather than widening it broadly"
  },
  {
    classification: "parse_error",
    type: /JSONDecodeError|JsonParseException|JsonSyntaxException|ParseException|XMLSyntaxError|SAXParseException/,
    message: /unexpected token|unexpected end of (json )?input|is not valid JSON|JSON Parse error|Expecting value|malformed|unterminated string/i,
    risk: "low",
    meaning: "input could not be parsed: a body, file or response that is not the format expected (often an HTML error page where JSON was expected)",
    fix: "Log what was received at the failing frame, check the content type of the response before parsing, and answer bad input with a clear error"
  },
  {
    classification: "validation",
    type: /ValidationError|ValueError|IllegalArgumentException|IllegalStateException|NumberFormatException|ArgumentException|InvalidArgument|ZodError|ConstraintViolation|AssertionError/,
    message: /invalid|must be|is required|validation failed|not a valid|violates .* constraint|expected .* (got|but|received)/i,
    risk: "low",
    meaning: "a value broke a rule the code checks: input from a client or another service that was not validated where it entered",
    fix: "Validate the value where it enters the system and answer it with a clear 4xx; if the value is legitimate, widen the rule"
  },
  {
    classification: "not_found",
    type: /FileNotFoundError|FileNotFoundException|NoSuchFileException|NotFound|ModuleNotFoundError|ImportError|ClassNotFoundException|NoSuchElementException|KeyError|IndexError|IndexOutOfBoundsException/,
    message: /ENOENT|no such file|not found|cannot find module|does not exist|no such key|index out of range|list index out of range/i,
    risk: "low",
    meaning: "something looked up was not there: a file, a module, a key or an index that the code assumed exists",
    fix: "Check where the name or index comes from; handle a missing one explicitly (or make sure it is created or deployed before it is used)"
  },
  {
    classification: "concurrency",
    type: /ConcurrentModificationException|Deadlock|SerializationFailure|OptimisticLock/,
    message: /deadlock|could not serialize access|concurrent (update|modification)|race condition|optimistic lock/i,
    risk: "high",
    meaning: "two operations interfered: a deadlock, a serialization failure or data changed while it was being read",
    fix: "Retry the transaction on serialization failures and deadlocks, take locks in one order, and keep transactions short"
  },
  {
    classification: "type_error",
    type: /^TypeError$|ClassCastException|InvalidCastException/,
    message: /is not a function|is not iterable|is not a constructor|unsupported operand type|cannot be cast to|object is not callable/i,
    risk: "medium",
    meaning: "a value had another type than the code assumed: a changed API shape, a missing await, or mixed types in one field",
    fix: "Check the value's actual shape at the failing frame (a changed response, a promise not awaited), and decode inputs against a schema"
  }
]

const frameName = (frame: EvidenceFrame) => {
  const where = frame.filename ?? frame.module
  const fn = frame.function ?? "<anonymous>"
  return where === null ? fn : `${fn} (${where}${frame.lineno == null ? "" : `:${frame.lineno}`})`
}

/** The innermost frame of the app's own code (frames run outermost first, as Sentry sends them). */
const culprit = (frames: ReadonlyArray<EvidenceFrame>) => {
  const own = frames.filter((frame) => frame.in_app === true)
  const pick = own.length > 0 ? own : frames
  return pick.length > 0 ? pick[pick.length - 1] : null
}

const raise = (risk: Risk): Risk => (risk === "low" ? "medium" : "high")

/** The heuristic's analysis of the evidence: the same evidence always gives the same answer. */
export const classify = (evidence: Evidence): AnalysisAnswer => {
  const type = evidence.exception?.type ?? ""
  const bareType = type.split(/[.$]/).pop() ?? type
  const message = evidence.exception === null
    ? `${evidence.title}\n${evidence.description ?? ""}`
    : `${evidence.exception.value}\n${evidence.title}`
  const byType = type.length > 0 ? rules.find((rule) => rule.type !== undefined && (rule.type.test(bareType) || rule.type.test(type))) : undefined
  const byMessage = rules.find((rule) => rule.message !== undefined && rule.message.test(message))
  // A specific message beats a broad type (a TypeError reading undefined is a null reference).
  const rule = byMessage !== undefined && (byType === undefined || rules.indexOf(byMessage) < rules.indexOf(byType)) ? byMessage : byType
  const frame = culprit(evidence.exception?.frames ?? [])
  const at = frame === null ? "" : ` It surfaced in ${frameName(frame)}.`
  const severe = evidence.severity === "critical" || evidence.severity === "high"
  if (rule === undefined) {
    return AnalysisAnswer.make({
      classification: "unknown",
      root_cause:
        `Heuristic (no model): no known pattern in ${type.length > 0 ? `the ${type} and its message` : "the bug's title and description"}.` +
        `${at} The cause cannot be told without reading the code.`,
      confidence: 0.1,
      risk: severe ? "high" : "medium",
      suggested_fix: { summary: "Reproduce it from the latest occurrence (release, frames, request id) and read the failing frame's code.", patch: null }
    })
  }
  // Both the type and the message point the same way: still a guess about the class, never about the code.
  const agree = byType === rule && byMessage === rule
  const confidence = agree ? 0.5 : byType === rule ? 0.4 : evidence.exception === null ? 0.2 : 0.3
  return AnalysisAnswer.make({
    classification: rule.classification,
    root_cause: `Heuristic (no model): this looks like ${rule.classification.replaceAll("_", " ")}: ${rule.meaning}.${at}`,
    confidence,
    risk: severe ? raise(rule.risk) : rule.risk,
    suggested_fix: { summary: `${rule.fix}.`, patch: null }
  })
}
