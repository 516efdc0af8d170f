import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    pool: "forks",
    // Most of the suite's wall time is CLI tests waiting on child processes: two workers on two cores measured
    // 230 s against 265–291 s for vitest's default of one (cores − 1) on a nearly idle machine.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
