import { parseStack } from "../src/Reports/Legacy.js"
import { describe, expect, test } from "bun:test"
import { Either, Option } from "effect"
import * as zlib from "node:zlib"
import { fromNative, fromSentry } from "../src/Reports/Event.js"
import { fingerprintOf, normalizeFile, normalizeMessage } from "../src/Reports/Grouping.js"
import { decompress, parseEnvelope } from "../src/Reports/SentryEnvelope.js"

/** Grouping and the envelope format, pure: events written from the SDKs' documented shapes (test/fixtures/sentry). */

const fixture = async (name: string) => (await Bun.file(`${import.meta.dir}/fixtures/sentry/${name}.json`).json()) as Record<string, any>
const clone = <A>(a: A): A => structuredClone(a)

describe("reading Sentry events", () => {
  test("the main exception is the last one; release, environment, trace, route and request id are read", async () => {
    const python = fromSentry(await fixture("python-valueerror"), null)
    expect(Option.getOrThrow(python.exception).type).toBe("ValueError")
    expect(python).toMatchObject({ release: "worker@2.0.1+9fceb02", environment: "staging", severity: "critical", component: "billing.invoices" })
    const node = fromSentry(await fixture("node-typeerror"), null)
    expect(node).toMatchObject({ trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", route: "/checkout", request_id: "req-81", severity: "high" })
    expect(node.occurred_at?.toISOString()).toBe("2026-11-18T11:06:40.123Z")
    expect(fromSentry(await fixture("browser-minified"), null).route).toBe("/cart")
    const message = fromSentry(await fixture("message-only"), null)
    expect(message).toMatchObject({ component: "payments", request_id: "r-9", exception: Option.none() })
    expect(message.message).toStartWith("Payment 4411")
  })
})

describe("the default key", () => {
  test.each([
    ["node-typeerror", ["exception.type", "frames", "route"], ["TypeError"], ["src.routes:checkout.ts checkout", "src.cart:total.ts cartTotal"]],
    ["python-valueerror", ["exception.type", "frames", "component"], ["ValueError"], ["billing.invoices render"]],
    ["browser-minified", ["exception.type", "frames", "route"], ["Error"], ["assets/app.<hash>.js fetchPrice"]],
    ["message-only", ["message", "component"], [], []]
  ] as const)("%s: contributes %p", async (name, contributed, type, frames) => {
    const { components } = fingerprintOf(fromSentry(await fixture(name), null))
    expect(components.filter((c) => c.contributed).map((c) => c.name)).toEqual([...contributed])
    expect(components.find((c) => c.name === "exception.type")?.values).toEqual([...type])
    expect(components.find((c) => c.name === "frames")?.values).toEqual([...frames])
  })

  test("line numbers, columns and build hashes do not split a group; another function does", async () => {
    const base = await fixture("node-typeerror")
    const moved = clone(base)
    for (const frame of moved.exception.values[0].stacktrace.frames) {
      frame.lineno += 7
      frame.colno += 3
    }
    moved.event_id = "ffffffffffffffffffffffffffffffff"
    expect(fingerprintOf(fromSentry(moved, null)).fingerprint).toBe(fingerprintOf(fromSentry(base, null)).fingerprint)

    const browser = await fixture("browser-minified")
    const rebuilt = clone(browser)
    rebuilt.exception.values[0].stacktrace.frames[1].filename = "https://cdn.example.net/assets/app.0c8d2f9b13.js"
    expect(fingerprintOf(fromSentry(rebuilt, null)).fingerprint).toBe(fingerprintOf(fromSentry(browser, null)).fingerprint)

    const elsewhere = clone(base)
    elsewhere.exception.values[0].stacktrace.frames[2].function = "cartSubtotal"
    expect(fingerprintOf(fromSentry(elsewhere, null)).fingerprint).not.toBe(fingerprintOf(fromSentry(base, null)).fingerprint)
  })

  test("without a stack, the message normalised: ids and numbers do not split a group", async () => {
    const one = await fixture("message-only")
    const other = clone(one)
    other.logentry.message = "Payment 97 for order 1c2d3e4f-0000-4f0b-8a1c-3d2f1e0c9a77 timed out after 45s"
    expect(fingerprintOf(fromSentry(other, null)).fingerprint).toBe(fingerprintOf(fromSentry(one, null)).fingerprint)
    expect(normalizeMessage("user 42 at 0x7ffd1c2a deadbeef1234 3f2a1b9c-1d2e-4f5a-8b9c-0d1e2f3a4b5c")).toBe("user <n> at <hex> <hex> <uuid>")
    expect(normalizeFile("https://cdn.example.com/static/js/main.4f7a9c12d3.chunk.js?v=3")).toBe("js/main.<hash>.chunk.js")
  })
})

describe("explicit fingerprints", () => {
  test("are used as given, {{ default }} standing for the default key", async () => {
    const event = await fixture("node-typeerror")
    const plain = fingerprintOf(fromSentry(event, null))
    const explicit = fingerprintOf(fromSentry({ ...event, fingerprint: ["checkout-total"] }, null))
    expect(explicit.components[0]).toEqual({ name: "fingerprint", values: ["checkout-total"], contributed: true })
    expect(explicit.components.slice(1).every((c) => !c.contributed)).toBe(true)
    const withDefault = fingerprintOf(fromSentry({ ...event, fingerprint: ["{{ default }}", "tenant-7"] }, null))
    expect(withDefault.fingerprint).not.toBe(plain.fingerprint)
    expect(withDefault.components.filter((c) => c.contributed).map((c) => c.name)).toEqual(["fingerprint", "exception.type", "frames", "route"])
    // The same default key with another extra part is another group; the same parts, the same group.
    const again = fingerprintOf(fromSentry({ ...clone(event), event_id: "1", fingerprint: ["{{default}}", "tenant-7"] }, null))
    expect(again.fingerprint).toBe(withDefault.fingerprint)
  })

  test("parts are JSON-encoded: [ab, c] is not [a, bc]", () => {
    const report = (fingerprint: Array<string>) => fromNative({ message: "m", fingerprint })
    expect(fingerprintOf(report(["ab", "c"])).fingerprint).not.toBe(fingerprintOf(report(["a", "bc"])).fingerprint)
  })
})

describe("envelopes", () => {
  const encode = (lines: Array<string | Uint8Array>) =>
    Buffer.concat(lines.map((l) => (typeof l === "string" ? Buffer.from(l) : Buffer.from(l))).flatMap((b, i) => (i === 0 ? [b] : [Buffer.from("\n"), b])))

  test("items with and without length, the trailing newline optional", () => {
    const payload = Buffer.from('{"a":1}\n{"not":"a line"}')
    const bytes = encode(['{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}', `{"type":"attachment","length":${payload.length}}`, payload, '{"type":"event"}', '{"message":"hi"}', ""])
    const envelope = Either.getOrThrow(parseEnvelope(bytes))
    expect(envelope.header.event_id).toBe("9ec79c33ec9942ab8353589fcb2e04dc")
    expect(envelope.items.map((i) => i.type)).toEqual(["attachment", "event"])
    expect(Buffer.from(envelope.items[0].payload).toString()).toBe(payload.toString())
    expect(Buffer.from(envelope.items[1].payload).toString()).toBe('{"message":"hi"}')
  })

  test("malformed envelopes are refused", () => {
    for (const bytes of ["not json", '{}\n{"no":"type"}\n{}', '{}\n{"type":"event","length":999}\n{}', "[1]"]) {
      const result = parseEnvelope(Buffer.from(bytes))
      expect(Either.isLeft(result) && result.left._tag).toBe("Malformed")
    }
  })

  test("gzip, deflate (zlib or raw) and br decompress; past the limit is too large", () => {
    const body = Buffer.from('{"message":"compressed"}')
    for (const [encoding, compressed] of [
      ["gzip", zlib.gzipSync(body)],
      ["deflate", zlib.deflateSync(body)],
      ["deflate", zlib.deflateRawSync(body)],
      ["br", zlib.brotliCompressSync(body)]
    ] as const) {
      expect(Buffer.from(Either.getOrThrow(decompress(compressed, encoding, 1024))).toString()).toBe(body.toString())
    }
    const bomb = zlib.gzipSync(Buffer.alloc(4096, 97))
    const refused = decompress(bomb, "gzip", 1024)
    expect(Either.isLeft(refused) && refused.left._tag).toBe("TooLarge")
    const garbage = decompress(Buffer.from("not gzip"), "gzip", 1024)
    expect(Either.isLeft(garbage) && garbage.left._tag).toBe("Malformed")
    const unknown = decompress(body, "compress", 1024)
    expect(Either.isLeft(unknown) && unknown.left._tag).toBe("Malformed")
  })
})

describe("legacy stacks as exceptions", () => {
  test("V8: the exception line first, frames innermost first (reversed to Sentry's order), libraries not in app", () => {
    const parsed = parseStack(
      "TypeError: Cannot read properties of undefined (reading 'price')\n    at lineTotal (/srv/shop/src/cart/totals.js:41:23)\n    at Array.map (<anonymous>)\n    at async checkout (/srv/shop/src/routes/checkout.js:88:20)\n    at Layer.handle (/srv/shop/node_modules/express/lib/router/layer.js:95:5)"
    )
    expect(parsed).toEqual({
      type: "TypeError",
      value: "Cannot read properties of undefined (reading 'price')",
      frames: [
        { function: "Layer.handle", filename: "/srv/shop/node_modules/express/lib/router/layer.js", lineno: 95, in_app: false },
        { function: "checkout", filename: "/srv/shop/src/routes/checkout.js", lineno: 88, in_app: true },
        { function: "lineTotal", filename: "/srv/shop/src/cart/totals.js", lineno: 41, in_app: true }
      ]
    })
  })

  test("JVM: module and function, the platform's frames not in app", () => {
    const parsed = parseStack("java.lang.IllegalStateException: closed\n\tat com.acme.Pool.take(Pool.java:12)\n\tat java.base/java.lang.Thread.run(Thread.java:833)")
    expect(parsed?.type).toBe("java.lang.IllegalStateException")
    expect(parsed?.frames.map((f) => [f.module, f.function, f.in_app])).toEqual([["java.base/java.lang.Thread", "run", false], ["com.acme.Pool", "take", true]])
  })

  test("Python: the exception line last, frames already oldest first", () => {
    const parsed = parseStack('Traceback (most recent call last):\n  File "/app/a.py", line 3, in main\n    run()\n  File "/usr/lib/python3/site-packages/x.py", line 9, in run\n    raise ValueError("bad")\nValueError: bad')
    expect(parsed).toMatchObject({ type: "ValueError", value: "bad" })
    expect(parsed?.frames.map((f) => [f.function, f.in_app])).toEqual([["main", true], ["run", false]])
  })

  test("text that is no stack gives no exception (the report groups by its message)", () => {
    expect(parseStack("something went wrong somewhere")).toBeUndefined()
    expect(parseStack("")).toBeUndefined()
  })
})
