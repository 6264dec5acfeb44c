import { BunRuntime } from "@effect/platform-bun"
import { Effect } from "effect"
import { AppConfig } from "./Config.js"
import { LoggingLive } from "./Logging.js"
import { migrate, SqlLive } from "./Sql/Sql.js"

migrate.pipe(Effect.provide(SqlLive), Effect.provide(LoggingLive), Effect.provide(AppConfig.Default), (main) => BunRuntime.runMain(main, { disablePrettyLogger: true }))
