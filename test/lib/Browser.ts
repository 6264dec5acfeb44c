import * as fs from "node:fs"
import { type Browser, chromium, type Locator } from "playwright-core"

/**
 * A real Chromium for browser tests, driven by playwright-core: `CHROMIUM_PATH`, else Debian's
 * `chromium` (`apt-get install -y chromium`) or another usual place. CI sets
 * `BUGBOTS_REQUIRE_BROWSER=1`, which turns a missing browser into a failing test instead of a skip.
 */
export const chromiumPath = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find(
  (candidate): candidate is string => candidate !== undefined && candidate !== "" && fs.existsSync(candidate)
)

export const browserRequired = process.env.BUGBOTS_REQUIRE_BROWSER === "1"

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: chromiumPath,
    // As root (CI containers) Chromium's sandbox cannot start.
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : []
  })

/** Where browser tests leave their screenshots (git-ignored; CI may keep them). */
export const artifactsDir = new URL("../../test-artifacts/", import.meta.url).pathname

/**
 * Waits until the (first) element of `locator` has text containing `text` (equal to it, with
 * `exact`), and fails with the text it last had.
 */
export const untilText = async (locator: Locator, text: string, options: { readonly exact?: boolean; readonly timeout?: number } = {}) => {
  const deadline = Date.now() + (options.timeout ?? 5000)
  let last: string | null = null
  for (;;) {
    last = await locator.first().textContent({ timeout: 250 }).catch(() => last)
    const normalised = last?.replace(/\s+/g, " ").trim() ?? null
    if (normalised !== null && (options.exact ? normalised === text : normalised.includes(text))) return
    if (Date.now() > deadline) throw new Error(`expected ${locator} to ${options.exact ? "have" : "contain"} text ${JSON.stringify(text)}; it had ${JSON.stringify(last)}`)
    await Bun.sleep(25)
  }
}
