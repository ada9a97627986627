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
            DOCUMENT_URL_SIGNING_KEY: "test-document-url-signing-key-0123456789abcdef",
            // Small limits so the size, quota and multipart paths run in milliseconds.
            DOCUMENT_MAX_UPLOAD_BYTES: String(6 * 1024 * 1024),
            DOCUMENT_PART_SIZE_BYTES: String(5 * 1024 * 1024),
            DOCUMENT_QUOTA_BYTES: String(64 * 1024 * 1024),
            DOCUMENT_QUOTA_COUNT: "50",
            DOCUMENT_PRESIGN_MAX_SECONDS: "3600",
            CORS_ORIGINS: "https://app.example.com,http://localhost:3000",
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
