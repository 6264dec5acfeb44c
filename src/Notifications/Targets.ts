import { Effect } from "effect"
import { lookup } from "node:dns/promises"
import { BlockList, isIP } from "node:net"
import { UnsafeTarget } from "../Domain/Notification.js"

/**
 * The guard that keeps user-supplied webhook and Slack URLs off the service's own network
 * (contract §13): a target whose host is, or resolves to, any loopback, link-local, private,
 * unique-local, unspecified, CGNAT or multicast address is refused. Checked when a channel is
 * created and again before every delivery (DNS can change); redirects are never followed.
 */
const blocked = new BlockList()
for (const [net, prefix] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["224.0.0.0", 4], ["240.0.0.0", 4]
] as const) blocked.addSubnet(net, prefix, "ipv4")
for (const [net, prefix] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8], ["64:ff9b::", 96]] as const) {
  blocked.addSubnet(net, prefix, "ipv6")
}

/** Whether an address is one a target may not reach (IPv4-mapped IPv6 addresses are judged as IPv4). */
export const isPrivateAddress = (address: string) => {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped !== null) return blocked.check(mapped[1], "ipv4")
  return isIP(address) === 6 ? blocked.check(address, "ipv6") : blocked.check(address, "ipv4")
}

const refuse = (message: string) => Effect.fail(new UnsafeTarget({ message }))

/** The URL, or why it cannot be a target (with `allowPrivate`, only its form is checked). */
export const checkTarget = (target: string, allowPrivate: boolean) =>
  Effect.gen(function* () {
    let url: URL
    try {
      url = new URL(target)
    } catch {
      return yield* refuse("the target is not a URL")
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return yield* refuse("the target must be an http or https URL")
    if (url.username !== "" || url.password !== "") return yield* refuse("the target must not carry credentials")
    if (allowPrivate) return url
    const host = url.hostname.replace(/^\[|\]$/g, "")
    const addresses =
      isIP(host) !== 0
        ? [host]
        : yield* Effect.tryPromise(() => lookup(host, { all: true, verbatim: true })).pipe(
            Effect.map((found) => found.map((a) => a.address)),
            Effect.catchAll(() => refuse(`the target's host ${host} does not resolve`))
          )
    const inside = addresses.filter(isPrivateAddress)
    if (inside.length > 0) {
      return yield* refuse(`the target's host ${host} resolves to a loopback, link-local, private or unique-local address (${inside.join(", ")})`)
    }
    return url
  })
