import { createHash, timingSafeEqual } from "node:crypto";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { badRequest, ConnectError } from "./errors.ts";
import { type FilterAttributes, filterRows } from "./filter.ts";
import { healthReport, type SyncState } from "./health.ts";
import { parseItemInput } from "./items.ts";
import { ID_PATTERN, type StoredItem, type StoredVault } from "./model.ts";
import type { ConnectStore } from "./store.ts";
import { fullItemView, itemSummaryView, vaultView } from "./views.ts";

export interface ConnectAppOptions {
  /** The one bearer token this server accepts on /v1. */
  token: string;
  store: ConnectStore;
  sync: SyncState;
  /** Echoed in `x-instance-id` on the health answers, so a supervisor knows it reached this process. */
  instanceId?: string | undefined;
}

// The SDK filters vaults on `title`; the spec's example uses `name`. Both mean the vault's name.
const VAULT_FILTERS: FilterAttributes<StoredVault> = { title: (v) => [v.name], name: (v) => [v.name] };
const ITEM_FILTERS: FilterAttributes<StoredItem> = { title: (i) => [i.title], tag: (i) => i.tags };

/** The subset of 1Password's Connect REST API that ChittyConnect's origin uses. */
export function createConnectApp({ token, store, sync, instanceId }: ConnectAppOptions): Hono {
  // Not strict: the SDK lists with a trailing slash (`/v1/vaults/`) and Connect accepts both.
  const app = new Hono({ strict: false });
  const identity: Record<string, string> = instanceId ? { "x-instance-id": instanceId } : {};

  app.get("/heartbeat", (c) => c.text(".", 200, identity));
  app.get("/health", (c) => c.json(healthReport(sync), 200, identity));

  app.use("/v1/*", bearerAuth(token, sync));

  app.get("/v1/vaults", (c) => c.json(filtered(c, store.listVaults(), VAULT_FILTERS).map(vaultView)));
  app.get("/v1/vaults/:vaultUuid", (c) => c.json(vaultView(store.vault(pathId(c, "vaultUuid")))));
  app.get("/v1/vaults/:vaultUuid/items", (c) => {
    const items = store.listItems(pathId(c, "vaultUuid"));
    return c.json(filtered(c, items, ITEM_FILTERS).map(itemSummaryView));
  });
  app.post("/v1/vaults/:vaultUuid/items", async (c) => {
    const vaultId = pathId(c, "vaultUuid");
    const input = parseItemInput(await jsonBody(c));
    return c.json(fullItemView(store.createItem(vaultId, input)));
  });
  app.get("/v1/vaults/:vaultUuid/items/:itemUuid", (c) =>
    c.json(fullItemView(store.item(pathId(c, "vaultUuid"), pathId(c, "itemUuid")))),
  );
  app.put("/v1/vaults/:vaultUuid/items/:itemUuid", async (c) => {
    const [vaultId, itemId] = [pathId(c, "vaultUuid"), pathId(c, "itemUuid")];
    const input = parseItemInput(await jsonBody(c));
    return c.json(fullItemView(store.replaceItem(vaultId, itemId, input)));
  });
  app.delete("/v1/vaults/:vaultUuid/items/:itemUuid", (c) => {
    store.deleteItem(pathId(c, "vaultUuid"), pathId(c, "itemUuid"));
    return c.body(null, 204);
  });

  app.notFound((c) =>
    c.json({ status: 404, message: `${c.req.method} ${c.req.path} is not part of this API` }, 404),
  );
  app.onError((error, c) => {
    if (error instanceof ConnectError) return c.json(error.body, error.status);
    // The error's name only: its message or stack could quote a request body, item values included.
    console.error(`dev Connect server: unexpected ${error.name} on ${c.req.method} ${c.req.path}`);
    return c.json({ status: 500, message: "Internal server error" }, 500);
  });
  return app;
}

/** Connect says "Invalid bearer token" when there is none to read, "Invalid token signature" when it is wrong. */
function bearerAuth(token: string, sync: SyncState): MiddlewareHandler {
  const expected = sha256(token);
  return async (c, next) => {
    const match = /^Bearer +(\S+) *$/i.exec(c.req.header("authorization") ?? "");
    if (!match?.[1]) throw new ConnectError(401, "Invalid bearer token");
    if (!timingSafeEqual(sha256(match[1]), expected)) throw new ConnectError(401, "Invalid token signature");
    sync.markSynced();
    await next();
  };
}

const sha256 = (text: string) => createHash("sha256").update(text).digest();

function pathId(c: Context, name: "vaultUuid" | "itemUuid"): string {
  const id = c.req.param(name) ?? "";
  if (!ID_PATTERN.test(id)) {
    throw badRequest(`Invalid ${name === "vaultUuid" ? "vault" : "item"} UUID ${JSON.stringify(id)}`);
  }
  return id;
}

function filtered<T>(c: Context, rows: T[], attributes: FilterAttributes<T>): T[] {
  // URLSearchParams decodes like Go's net/url, which Connect uses: `+` is a space, `%2B` a plus.
  const text = new URL(c.req.url).searchParams.get("filter");
  const result = filterRows(rows, text, attributes);
  if (!result.ok) throw badRequest(`Invalid filter query: ${result.message}`);
  return result.value;
}

async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw badRequest("The request body is not valid JSON");
  }
}
