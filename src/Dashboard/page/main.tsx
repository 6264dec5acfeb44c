import { render } from "preact"
import { useEffect, useMemo, useRef, useState } from "preact/hooks"
import { type Api, ApiError, inWords, makeApi, type Me, type Village } from "./api.js"
import { type Connection, Live } from "./live.js"
import { useRoute } from "./router.js"
import { VillageView } from "./Village.js"
import "./styles.css"

const tokenKey = "bugbots.token"

const connectionWords: Record<Connection, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting… the page will catch up with what it missed"
}

function SignIn({ onSignedIn, notice }: { readonly onSignedIn: (token: string, me: Me) => void; readonly notice: string | undefined }) {
  const [token, setToken] = useState("")
  const [error, setError] = useState<string | undefined>(notice)
  const [busy, setBusy] = useState(false)
  return (
    <form
      class="sign-in"
      aria-labelledby="sign-in-heading"
      onSubmit={async (event) => {
        event.preventDefault()
        setBusy(true)
        try {
          onSignedIn(token.trim(), await makeApi(token.trim()).me())
        } catch (cause) {
          setError(inWords(cause))
        } finally {
          setBusy(false)
        }
      }}
    >
      <h2 id="sign-in-heading">Sign in</h2>
      <p>Paste a bearer token (a user's, from <code>POST /api/users/&#123;id&#125;/tokens</code>). It is kept in this browser only.</p>
      <label>
        API token
        <input type="password" autoComplete="off" required value={token} onInput={(event) => setToken((event.currentTarget as HTMLInputElement).value)} />
      </label>
      <button type="submit" disabled={busy || token.trim() === ""}>Sign in</button>
      {error === undefined ? null : <p role="alert" class="error">{error}</p>}
    </form>
  )
}

function Villages({ api }: { readonly api: Api }) {
  const [villages, setVillages] = useState<ReadonlyArray<Village> | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => {
    api.villages().then(setVillages, (cause) => setError(inWords(cause)))
    heading.current?.focus()
  }, [api])
  return (
    <section aria-labelledby="villages-heading">
      <h2 id="villages-heading" ref={heading} tabIndex={-1}>Villages</h2>
      {error === undefined ? null : <p role="alert" class="error">{error}</p>}
      {villages === undefined ? <p>Loading…</p> : villages.length === 0 ? <p>You see no village yet.</p> : (
        <ul class="villages">
          {villages.map((village) => (
            <li key={village.id}>
              <a href={`#/villages/${village.id}`}>{village.name}</a>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

function App() {
  const [token, setToken] = useState<string | null>(() => localStorage.getItem(tokenKey))
  const [me, setMe] = useState<Me | undefined>(undefined)
  const [notice, setNotice] = useState<string | undefined>(undefined)
  const [connection, setConnection] = useState<Connection>("connecting")
  const route = useRoute()
  const api = useMemo(() => (token === null ? undefined : makeApi(token)), [token])
  const signOut = (why?: string) => {
    localStorage.removeItem(tokenKey)
    setMe(undefined)
    setToken(null)
    setNotice(why)
  }

  const live = useMemo(() => {
    if (token === null || me === undefined || api === undefined) return undefined
    // While the socket keeps failing, ask REST why: a token revoked meanwhile signs the page out.
    const failing = () => void api.me().catch((cause) => cause instanceof ApiError && cause.code === "UNAUTHENTICATED" && signOut(inWords(cause)))
    return new Live(token, setConnection, failing)
  }, [token, me?.id])
  useEffect(() => () => live?.close(), [live])

  const [startError, setStartError] = useState<string | undefined>(undefined)
  useEffect(() => {
    if (api === undefined || me !== undefined) return
    let timer: ReturnType<typeof setTimeout> | undefined
    // Only a refused token signs out; an unreachable service is asked again.
    const ask = () =>
      api.me().then(
        (who) => {
          setStartError(undefined)
          setMe(who)
        },
        (cause) => {
          if (cause instanceof ApiError && cause.code === "UNAUTHENTICATED") return signOut(inWords(cause))
          setStartError(inWords(cause))
          timer = setTimeout(ask, 2000)
        }
      )
    void ask()
    return () => clearTimeout(timer)
  }, [api])

  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <h1><a href="#/">bugbots village</a></h1>
        {me === undefined ? null : (
          <>
            <p role="status" class={`connection ${connection}`} data-connection={connection}>{connectionWords[connection]}</p>
            <p class="who">
              {me.login ?? me.name}
              <button type="button" onClick={() => signOut()}>Sign out</button>
            </p>
          </>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {api === undefined || token === null ? (
          <SignIn
            notice={notice}
            onSignedIn={(signedIn, who) => {
              localStorage.setItem(tokenKey, signedIn)
              setNotice(undefined)
              setToken(signedIn)
              setMe(who)
            }}
          />
        ) : me === undefined || live === undefined ? (
          <>
            <p>Signing in…</p>
            {startError === undefined ? null : <p role="alert" class="error">{startError}</p>}
          </>
        ) : route.view === "village" ? (
          <VillageView api={api} live={live} me={me} villageId={route.villageId} bugId={route.bugId} agentId={route.agentId} />
        ) : (
          <Villages api={api} />
        )}
      </main>
    </>
  )
}

render(<App />, document.getElementById("app")!)
