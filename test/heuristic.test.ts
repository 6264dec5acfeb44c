import { describe, expect, test } from "bun:test"
import { Schema } from "effect"
import { classify, type Evidence, type EvidenceFrame } from "../src/Analyses/Heuristic.js"
import { AnalysisAnswer } from "../src/Domain/Analysis.js"

const frame = (fn: string, filename: string, in_app = true, lineno?: number): EvidenceFrame => ({
  filename,
  module: null,
  function: fn,
  lineno: lineno ?? null,
  in_app
})

const evidence = (type: string, value: string, frames: ReadonlyArray<EvidenceFrame> = [], severity: Evidence["severity"] = null): Evidence => ({
  title: `${type}: ${value}`.split("\n")[0],
  description: null,
  severity,
  exception: { type, value, frames }
})

/** Exceptions as the runtimes really word them (Node/V8, Safari, Firefox, CPython, the JVM, .NET). */
const table: ReadonlyArray<readonly [string, Evidence, string]> = [
  ["V8 reading a property of undefined", evidence("TypeError", "Cannot read properties of undefined (reading 'total')"), "null_reference"],
  ["V8 (old) reading a property of null", evidence("TypeError", "Cannot read property 'map' of null"), "null_reference"],
  ["Safari undefined is not an object", evidence("TypeError", "undefined is not an object (evaluating 'cart.items.length')"), "null_reference"],
  ["Firefox x is undefined", evidence("TypeError", "cart.items is undefined"), "null_reference"],
  ["CPython NoneType attribute", evidence("AttributeError", "'NoneType' object has no attribute 'total'"), "null_reference"],
  ["CPython NoneType subscript", evidence("TypeError", "'NoneType' object is not subscriptable"), "null_reference"],
  ["JVM NPE (helpful message)", evidence("java.lang.NullPointerException", 'Cannot invoke "String.length()" because "<local1>" is null'), "null_reference"],
  [".NET NullReferenceException", evidence("System.NullReferenceException", "Object reference not set to an instance of an object."), "null_reference"],
  ["V8 not a function", evidence("TypeError", "cart.total is not a function"), "type_error"],
  ["JVM ClassCastException", evidence("java.lang.ClassCastException", "class java.lang.Integer cannot be cast to class java.lang.String"), "type_error"],
  ["Node ETIMEDOUT", evidence("Error", "connect ETIMEDOUT 10.0.0.12:443"), "timeout"],
  ["CPython TimeoutError", evidence("TimeoutError", "timed out"), "timeout"],
  ["JVM SocketTimeoutException", evidence("java.net.SocketTimeoutException", "Read timed out"), "timeout"],
  ["PostgreSQL statement timeout", evidence("QueryFailedError", "canceling statement due to statement timeout"), "timeout"],
  ["Node ECONNREFUSED", evidence("Error", "connect ECONNREFUSED 127.0.0.1:5432"), "connection_refused"],
  ["CPython ConnectionRefusedError", evidence("ConnectionRefusedError", "[Errno 111] Connection refused"), "connection_refused"],
  ["JVM ConnectException", evidence("java.net.ConnectException", "Connection refused (Connection refused)"), "connection_refused"],
  ["requests ConnectionError", evidence("requests.exceptions.ConnectionError", "HTTPConnectionPool(host='api', port=80): Max retries exceeded"), "connection_refused"],
  ["Node heap out of memory", evidence("Error", "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"), "out_of_memory"],
  ["JVM OutOfMemoryError", evidence("java.lang.OutOfMemoryError", "Java heap space"), "out_of_memory"],
  ["CPython MemoryError", evidence("MemoryError", ""), "out_of_memory"],
  ["V8 stack overflow", evidence("RangeError", "Maximum call stack size exceeded"), "stack_overflow"],
  ["CPython RecursionError", evidence("RecursionError", "maximum recursion depth exceeded while calling a Python object"), "stack_overflow"],
  ["JVM StackOverflowError", evidence("java.lang.StackOverflowError", ""), "stack_overflow"],
  ["Node EACCES", evidence("Error", "EACCES: permission denied, open '/var/log/app.log'"), "permission"],
  ["CPython PermissionError", evidence("PermissionError", "[Errno 13] Permission denied: '/etc/app.conf'"), "permission"],
  ["JVM AccessDeniedException", evidence("java.nio.file.AccessDeniedException", "/data/upload.tmp"), "permission"],
  ["JSON.parse of HTML", evidence("SyntaxError", "Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON"), "parse_error"],
  ["CPython JSONDecodeError", evidence("json.decoder.JSONDecodeError", "Expecting value: line 1 column 1 (char 0)"), "parse_error"],
  ["CPython ValueError", evidence("ValueError", "invalid literal for int() with base 10: 'abc'"), "validation"],
  ["JVM IllegalArgumentException", evidence("java.lang.IllegalArgumentException", "quantity must be positive"), "validation"],
  ["JVM NumberFormatException", evidence("java.lang.NumberFormatException", 'For input string: "12a"'), "validation"],
  ["Zod", evidence("ZodError", "Expected number, received string"), "validation"],
  ["Node ENOENT", evidence("Error", "ENOENT: no such file or directory, open 'config.json'"), "not_found"],
  ["CPython KeyError", evidence("KeyError", "'user_id'"), "not_found"],
  ["CPython IndexError", evidence("IndexError", "list index out of range"), "not_found"],
  ["JVM ConcurrentModificationException", evidence("java.util.ConcurrentModificationException", ""), "concurrency"],
  ["PostgreSQL deadlock", evidence("error", "deadlock detected"), "concurrency"],
  ["nothing known", evidence("CheckoutError", "the basket went sideways"), "unknown"]
]

describe("the heuristic provider", () => {
  test.each(table)("%s", (_, input, expected) => {
    const answer = classify(input)
    expect(answer.classification).toBe(expected)
    // It decodes as every provider's answer must, and never claims to be sure.
    expect(Schema.is(AnalysisAnswer)(answer)).toBe(true)
    expect(answer.confidence).toBeLessThanOrEqual(0.5)
    expect(answer.suggested_fix.patch).toBeNull()
    expect(answer.root_cause.startsWith("Heuristic (no model)")).toBe(true)
  })

  test("the same evidence gives the same answer", () => {
    const input = evidence("TypeError", "Cannot read properties of undefined (reading 'id')", [frame("loadCart", "src/cart.ts", true, 12)])
    expect(classify(input)).toEqual(classify(input))
  })

  test("it names the innermost frame of the app's own code, and is surer when type and message agree", () => {
    const frames = [frame("main", "src/index.ts"), frame("checkout", "src/checkout.ts", true, 88), frame("request", "node_modules/undici/index.js", false)]
    const npe = classify(evidence("java.lang.NullPointerException", "Cannot read field \"total\" because \"cart\" is null", frames))
    expect(npe.root_cause).toContain("checkout (src/checkout.ts:88)")
    expect(npe.root_cause).not.toContain("undici")
    expect(npe.confidence).toBe(0.5)
    const byMessageOnly = classify(evidence("Error", "connect ECONNREFUSED 127.0.0.1:6379"))
    expect(byMessageOnly.confidence).toBeLessThan(npe.confidence)
    expect(classify(evidence("CheckoutError", "sideways")).confidence).toBe(0.1)
  })

  test("without an exception it reads the bug's words, with less confidence; severity raises the risk", () => {
    const fromTitle = classify({ title: "Checkout times out after 30s", description: "Since Monday", severity: null, exception: null })
    expect(fromTitle.classification).toBe("timeout")
    expect(fromTitle.confidence).toBe(0.2)
    expect(fromTitle.risk).toBe("medium")
    const critical = classify({ title: "Checkout times out after 30s", description: null, severity: "critical", exception: null })
    expect(critical.risk).toBe("high")
  })
})
