import * as path from "node:path"

interface Definition {
  readonly name: string
  readonly examples: ReadonlyArray<Record<string, any>>
}

const definitions = (() => {
  const root = path.dirname(Bun.resolveSync("@octokit/webhooks-examples/package.json", import.meta.dir))
  return require(path.join(root, "api.github.com", "index.json")) as ReadonlyArray<Definition>
})()

/** A copy of GitHub's own example payload (@octokit/webhooks-examples, github.com) of `event` with `action`. */
export const example = (event: string, action: string, pick: (payload: Record<string, any>) => boolean = () => true): Record<string, any> => {
  const found = definitions.find((d) => d.name === event)?.examples.find((e) => e.action === action && pick(e))
  if (found === undefined) throw new Error(`no example of ${event}.${action}`)
  return structuredClone(found)
}

export interface Place {
  readonly ownerId: number
  readonly ownerLogin: string
  readonly repoId: number
  readonly repoName: string
  readonly installationId: number
}

/** Moves an example payload to `place`: its repository, owner and installation. */
export const placed = (payload: Record<string, any>, place: Place) => {
  payload.repository = {
    ...payload.repository,
    id: place.repoId,
    name: place.repoName,
    full_name: `${place.ownerLogin}/${place.repoName}`,
    owner: { ...payload.repository.owner, id: place.ownerId, login: place.ownerLogin, type: "Organization" }
  }
  payload.installation = { id: place.installationId, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u" }
  return payload
}

/** A `pull_request` delivery from GitHub's example, for pull request `number` by `author`. */
export const pullRequestEvent = (
  action: string,
  place: Place,
  number: number,
  author: { readonly login: string; readonly id?: number; readonly type?: string },
  options: { readonly draft?: boolean } = {}
) => {
  const payload = placed(example("pull_request", action), place)
  payload.number = number
  payload.pull_request = {
    ...payload.pull_request,
    number,
    draft: options.draft ?? false,
    state: action === "closed" ? "closed" : "open",
    user: { ...payload.pull_request.user, login: author.login, id: author.id ?? 1000 + number, type: author.type ?? "User" }
  }
  return payload
}

/** An `issue_comment` created on pull request `number`, from GitHub's example. */
export const prCommentEvent = (place: Place, number: number, body: string, by: { readonly login: string; readonly id: number }) => {
  const payload = placed(example("issue_comment", "created"), place)
  payload.issue = { ...payload.issue, number, pull_request: { url: `https://api.github.com/repos/${place.ownerLogin}/${place.repoName}/pulls/${number}` } }
  payload.comment = { ...payload.comment, id: Math.floor(Math.random() * 1e9), body, user: { ...payload.comment.user, login: by.login, id: by.id, type: "User" } }
  return payload
}
