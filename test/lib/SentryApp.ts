/**
 * A small application reporting its errors with a real Sentry SDK, as its own process (the SDKs
 * keep global state): `bun test/lib/SentryApp.ts <node|bun> <dsn> <errors|big>`. Prints one JSON
 * line: the event ids the SDK gave.
 */
export {}

const [sdk, dsn, scenario] = process.argv.slice(2)
const Sentry = sdk === "bun" ? await import("@sentry/bun") : await import("@sentry/node")
Sentry.init({ dsn, release: "shop@1.0.0", environment: "test", tracesSampleRate: 0 })

interface Cart {
  readonly items?: { readonly total: number }
}
// Not in tail position: Bun folds tail calls, and the frames would vanish from the stack.
const cartTotal = (cart: Cart) => cart.items!.total + 0
const checkout = (cart: Cart) => cartTotal(cart) + 1
const reserve = (quantity: number) => {
  if (quantity > 10) throw new RangeError(`quantity ${quantity} out of range`)
  return quantity + 1
}

const ids: Array<string> = []
const capture = (run: () => unknown) => {
  try {
    run()
  } catch (error) {
    ids.push(Sentry.captureException(error))
  }
}
if (scenario === "errors") {
  capture(() => checkout({}))
  capture(() => checkout({}))
  capture(() => reserve(99))
} else {
  capture(() => {
    throw new Error(`a very long message: ${"x".repeat(40_000)}`)
  })
}
await Sentry.flush(10_000)
console.log(JSON.stringify({ ids }))
process.exit(0)
