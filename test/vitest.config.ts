import { defineConfig } from "vitest/config";

// Root-level suites: end-to-end (the real local stack over HTTP) and ops (nginx, compose, Dockerfile).
export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ["**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
