import { defineConfig } from "vite";

// The dashboard is served by the Lockbox server at /ui/ (packages/server/src/http/ui-static.ts):
// hashed names under assets/, nothing inline (the CSP forbids inline script and style).
export default defineConfig({
  base: "/ui/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
  },
});
