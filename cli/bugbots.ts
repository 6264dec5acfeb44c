#!/usr/bin/env bun
import "../src/Cli/main.ts"
