import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources of sibling packages, not their build output.
    alias: {
      "@lockbox/core": src("core"),
      "@lockbox/server": src("server"),
      "@lockbox/sdk": src("sdk"),
    },
  },
  test: {
    include: ["packages/*/src/**/*.test.ts", "clients/**/*.test.ts"],
    // Safety nets, not measurements: an end-to-end test runs the real CLI several times, and with
    // several such files in parallel on two cores one CLI start can take seconds.
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
