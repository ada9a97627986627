import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** A local port nothing listens on, for connection-refused tests. */
      CLOSED_PORT_URL: string;
      CF_ACCESS_CLIENT_ID?: string;
      CF_ACCESS_CLIENT_SECRET?: string;
    }
  }
}
