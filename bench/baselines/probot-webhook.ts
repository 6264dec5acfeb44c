/** Probot receiving the same deliveries (verify, parse, dispatch to an empty `issues.opened` handler); it keeps no record. */
import { createServer } from "node:http"
import { createNodeMiddleware, Probot } from "probot"

const probot = new Probot({ githubToken: "bench-token-unused", secret: process.env.WEBHOOK_SECRET!, logLevel: "error" })
const middleware = await createNodeMiddleware(
  (app) => {
    app.on("issues.opened", async () => {})
  },
  { probot, webhooksPath: "/api/github/webhooks" }
)
createServer((request, response) => {
  void middleware(request, response, () => {
    response.writeHead(404).end()
  })
}).listen(Number(process.env.PORT), "127.0.0.1")
