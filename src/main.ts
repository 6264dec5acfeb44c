import { BunRuntime } from "@effect/platform-bun"
import { Layer } from "effect"
import { ServerLive } from "./Server.js"

Layer.launch(ServerLive).pipe((main) => BunRuntime.runMain(main, { disablePrettyLogger: true }))
