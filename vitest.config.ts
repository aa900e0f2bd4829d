import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "bench/**/*.test.ts"],
    globalSetup: ["src/test-support/global-setup.ts"],
    // Fuzz suites run on a fixed seed in the gate; `npm run fuzz` explores (fuzz-seed.ts).
    setupFiles: ["src/test-support/fuzz-seed.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores on CI: files run in parallel, but never more than the machine can keep warm.
    poolOptions: { forks: { maxForks: 2 } },
    pool: "forks",
  },
});
