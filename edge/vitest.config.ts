import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { TEST_ACCESS, TEST_SIGNING_KEY } from "./test/fake-origin.ts";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(new URL("./migrations", import.meta.url).pathname);
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: "./wrangler.jsonc" },
        miniflare: {
          bindings: {
            ORIGIN_URL: inject("fakeOriginUrl"),
            CLOSED_PORT_URL: inject("closedPortUrl"),
            REAL_ORIGIN_URL: inject("realOriginUrl"),
            REAL_CONNECT_ITEM_URL: inject("realConnectItemUrl"),
            REAL_CONNECT_TOKEN: inject("realConnectToken"),
            ORIGIN_TIMEOUT_MS: "300",
            ADMIN_TOKEN: "test-admin-token",
            EDGE_SIGNING_KEY: TEST_SIGNING_KEY,
            CF_ACCESS_CLIENT_ID: TEST_ACCESS.clientId,
            CF_ACCESS_CLIENT_SECRET: TEST_ACCESS.clientSecret,
            TEST_MIGRATIONS: migrations,
          },
        },
      })),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      globalSetup: ["./test/global-setup.ts"],
      setupFiles: ["./test/apply-migrations.ts"],
    },
  };
});
