import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["@curate/source"] },
  ssr: { resolve: { conditions: ["@curate/source"] } },
  test: {
    include: ["packages/*/src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
