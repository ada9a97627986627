import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** A local port nothing listens on, for connection-refused tests. */
      CLOSED_PORT_URL: string;
      /** The real origin before a dev Connect server whose writes answer slowly (test/real-origin.ts). */
      REAL_ORIGIN_URL: string;
      /** That Connect server's services/chittyid item, and its token. */
      REAL_CONNECT_ITEM_URL: string;
      REAL_CONNECT_TOKEN: string;
      CF_ACCESS_CLIENT_ID?: string;
      CF_ACCESS_CLIENT_SECRET?: string;
    }
  }
}
