import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "bench/**/*.test.ts"],
    globalSetup: ["src/test-support/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores on CI: files run in parallel, but never more than the machine can keep warm.
    poolOptions: { forks: { maxForks: 2 } },
    pool: "forks",
  },
});
