/**
 * `@lockbox/cli`: the `lockbox` program, runnable in-process (`run`) or as the process (`main`).
 */
export { parseEnvOption, parseScopeOption, parseSiteArg, type SiteTarget } from "./arguments.js";
export { withExamples } from "./command-helpers.js";
export { CliContext, type CliInput, type CliIo, type CliOutput } from "./context.js";
export { CliError, UsageError } from "./errors.js";
export { createProgram, EXIT_FAILURE, EXIT_USAGE, main, run } from "./main.js";
