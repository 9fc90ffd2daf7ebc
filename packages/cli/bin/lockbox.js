#!/usr/bin/env node
// First, before the rest is loaded: keeps Node's stream code on V8's fast path in a server process
// (packages/server/src/http/tick-shape.ts).
import { keepTickShape } from "@lockbox/server/tick-shape";

keepTickShape();
const { main } = await import("../dist/main.js");
await main();
