import { useEffect, useState } from "preact/hooks"

/** Views are addressed by the URL's fragment, so the service serves one page at `/`. */
export type Route =
  | { readonly view: "villages" }
  | { readonly view: "village"; readonly villageId: string; readonly bugId?: string; readonly agentId?: string }

const uuid = "([0-9a-fA-F-]{36})"
const villagePattern = new RegExp(`^/villages/${uuid}(?:/(bugs|agents)/${uuid})?$`)

export const parseRoute = (hash: string): Route => {
  const match = villagePattern.exec(hash.replace(/^#/, ""))
  if (match === null) return { view: "villages" }
  const [, villageId, kind, id] = match
  return kind === "bugs" ? { view: "village", villageId, bugId: id } : kind === "agents" ? { view: "village", villageId, agentId: id } : { view: "village", villageId }
}

export const navigate = (path: string) => {
  location.hash = `#${path}`
}

export const useRoute = () => {
  const [route, setRoute] = useState(() => parseRoute(location.hash))
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash))
    addEventListener("hashchange", update)
    return () => removeEventListener("hashchange", update)
  }, [])
  return route
}
