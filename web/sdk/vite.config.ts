/**
 * Two library builds of one source: `vite build` makes the ES module (`dist/sdk.mjs`, entry `src/index.ts`);
 * `vite build --mode iife` makes the script-tag file (`dist/sdk.js`, entry `src/global.ts`). Both drop every
 * `console` call and `debugger` statement; vitest runs the tests in jsdom.
 */
import { defineConfig } from "vitest/config";
import pkg from "./package.json";

export default defineConfig(({ mode }) => {
  const iife = mode === "iife";
  return {
    define: { __SDK_VERSION__: JSON.stringify(pkg.version) },
    esbuild: { drop: ["console", "debugger"], legalComments: "none" },
    build: {
      target: "es2020",
      emptyOutDir: !iife,
      sourcemap: false,
      minify: "esbuild",
      reportCompressedSize: false,
      lib: iife
        ? { entry: "src/global.ts", formats: ["iife"], name: "tcurityBundle", fileName: () => "sdk.js" }
        : { entry: "src/index.ts", formats: ["es"], fileName: () => "sdk.mjs" },
    },
    test: {
      environment: "jsdom",
      include: ["test/**/*.test.ts"],
    },
  };
});
