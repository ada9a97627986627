import { type FullItem, GeneratorRecipe, OnePasswordConnect, type OPConnect } from "@1password/connect";
import type { CredentialPath, OriginReadiness } from "@chittyconnect/contract";
import type { Logger } from "pino";
import type { OriginMetrics } from "../metrics.ts";
import { ambiguousTitle, ConnectFailure, classifyConnectError, credentialNotFound } from "./errors.ts";
import { TitleCache } from "./title-cache.ts";

type ItemField = NonNullable<FullItem["fields"]>[number];

export interface BrokerOptions {
  host: string;
  token: string;
  timeoutMs: number;
  titleCacheTtlSeconds: number;
  metrics: OriginMetrics;
  logger: Logger;
}

export interface CredentialValue {
  value: string;
  version: number | undefined;
}

/** Connect's ids: 26 lower-case letters and digits. */
const CONNECT_ID = /^[a-z0-9]{26}$/;
/** Title look-ups return summaries; a title shared by more items than this is refused outright. */
const MAX_TITLE_MATCHES = 100;
const ROTATION_RECIPE: GeneratorRecipe = {
  length: 32,
  characterSets: [GeneratorRecipe.CharacterSetsEnum.Letters, GeneratorRecipe.CharacterSetsEnum.Digits],
};

/**
 * Reads and rotates fields in 1Password Connect, addressed by `vault/item/field` titles.
 *
 * Titles resolve by exact title first. Only when no vault/item has that title and the segment
 * looks like a Connect id (26 lower-case alphanumerics) is it tried as an id, so an item whose
 * title happens to look like another item's id is found by its title, never swapped for the other.
 */
export class CredentialBroker {
  readonly #options: BrokerOptions;
  readonly #sdk: OPConnect;
  readonly #cache: TitleCache;
  readonly #rotations = new Map<string, Promise<void>>();

  constructor(options: BrokerOptions) {
    this.#options = options;
    this.#sdk = OnePasswordConnect({
      serverURL: options.host,
      token: options.token,
      keepAlive: true,
      timeout: options.timeoutMs,
    });
    this.#cache = new TitleCache({ ttlSeconds: options.titleCacheTtlSeconds });
  }

  async read(path: CredentialPath): Promise<CredentialValue> {
    const { item } = await this.#locate(path);
    const field = findField(item, path.field);
    return { value: field.value ?? "", version: item.version };
  }

  /** Replaces the field with a value Connect generates (same field type), and returns it. */
  async rotate(path: CredentialPath): Promise<CredentialValue> {
    const located = await this.#locate(path);
    const key = `${located.vaultId}/${located.item.id}`;
    // Rotations of one item run one at a time: each must read the item as the previous one left
    // it, or two callers would each be handed a value the other just replaced.
    const previous = this.#rotations.get(key) ?? Promise.resolve();
    const run = previous.then(() => this.#rotateLocated(path));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#rotations.set(key, settled);
    void settled.then(() => {
      if (this.#rotations.get(key) === settled) this.#rotations.delete(key);
    });
    return run;
  }

  async #rotateLocated(path: CredentialPath): Promise<CredentialValue> {
    const { vaultId, item } = await this.#locate(path);
    const field = findField(item, path.field);
    const fields = (item.fields ?? []).map((candidate): ItemField => {
      if (candidate.id !== field.id) return candidate;
      const { value: _old, entropy: _entropy, ...rest } = candidate;
      return { ...rest, generate: true, recipe: ROTATION_RECIPE };
    });
    const updated = await this.#call("update_item", () =>
      this.#sdk.updateItem(vaultId, Object.assign(item, { fields })),
    );
    const value = updated.fields?.find((candidate) => candidate.id === field.id)?.value;
    if (!value) {
      throw new ConnectFailure(
        "error",
        new Error("Connect's rotation response lacks the generated field value"),
      );
    }
    return { value, version: updated.version };
  }

  /** Connect's /health: reachable when it answers, synced when its sync dependency is ACTIVE. */
  async readiness(): Promise<OriginReadiness> {
    const started = performance.now();
    const end = this.#options.metrics.connectDuration.startTimer({ operation: "health" });
    try {
      const response = await fetch(connectUrl(this.#options.host, "/health"), {
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      const latencyMs = Math.round(performance.now() - started);
      end({ outcome: response.ok ? "ok" : "error" });
      if (!response.ok) {
        await response.body?.cancel();
        return unready(true, latencyMs, `Connect /health answered ${response.status}`);
      }
      const sync = syncDependency(await response.json());
      if (sync?.status === "ACTIVE") {
        return { status: "ready", connect: { reachable: true, synced: true, latencyMs } };
      }
      return unready(true, latencyMs, `Connect sync is ${sync?.status ?? "not reported"}`);
    } catch (error) {
      const kind = classifyConnectError(error);
      end({ outcome: kind });
      return unready(false, Math.round(performance.now() - started), `Connect /health failed: ${kind}`);
    }
  }

  /** One authenticated request, which is what makes Connect begin its sync. Never throws. */
  async warmUp(): Promise<void> {
    try {
      const vaults = await this.#call("list_vaults", () => this.#sdk.listVaults());
      this.#options.logger.info({ vaults: vaults.length }, "Connect warm-up succeeded");
    } catch (error) {
      // Fields chosen here, never the error: the SDK's error carries the request and its bearer token.
      const kind = error instanceof ConnectFailure ? error.kind : "unknown";
      this.#options.logger.warn({ kind }, "Connect warm-up failed; it will sync on the first request");
    }
  }

  async #locate(path: CredentialPath): Promise<{ vaultId: string; item: FullItem }> {
    const vaultId = await this.#resolve("vault", `vault\u0000${path.vault}`, () =>
      this.#findVault(path.vault),
    );
    const itemKey = `item\u0000${vaultId}\u0000${path.item}`;
    const itemId = await this.#resolve("item", itemKey, () => this.#findItem(vaultId, path.item));
    try {
      return { vaultId, item: await this.#call("get_item", () => this.#sdk.getItemById(vaultId, itemId)) };
    } catch (error) {
      // The cached id may belong to an item deleted since; forget it so the next request looks again.
      this.#cache.delete(itemKey);
      throw error;
    }
  }

  #resolve(kind: "vault" | "item", key: string, load: () => Promise<string>): Promise<string> {
    return this.#cache.get(key, load, (result) =>
      this.#options.metrics.titleCacheLookups.inc({ kind, result }),
    );
  }

  async #findVault(title: string): Promise<string> {
    // The published spec filters vaults by `name` (items by `title`); the SDK sends `title` for both.
    const matches = await this.#listByTitle("find_vault", "/v1/vaults", title, "name");
    return this.#pick("vault", matches, title, () =>
      this.#call("get_vault", () => this.#sdk.getVaultById(title)).then((vault) => vault.id ?? title),
    );
  }

  async #findItem(vaultId: string, title: string): Promise<string> {
    const matches = await this.#listByTitle(
      "find_item",
      `/v1/vaults/${encodeURIComponent(vaultId)}/items`,
      title,
      "title",
    );
    return this.#pick("item", matches, title, () =>
      this.#call("get_item", () => this.#sdk.getItemById(vaultId, title)).then((item) => item.id ?? title),
    );
  }

  async #pick(
    kind: "vault" | "item",
    matches: Array<{ id: string }>,
    title: string,
    byId: () => Promise<string>,
  ): Promise<string> {
    const [first, second] = matches;
    if (second) throw ambiguousTitle(kind);
    if (first) return first.id;
    if (CONNECT_ID.test(title)) return byId();
    throw credentialNotFound();
  }

  /**
   * `title eq "…"` look-up done with fetch, not the SDK: the SDK puts the filter into the query
   * unencoded, so Connect reads `+` as a space (finding the wrong item) and a `"` breaks the filter.
   * Here the title is a JSON string literal and the whole filter is percent-encoded.
   */
  async #listByTitle(
    operation: string,
    path: string,
    title: string,
    attribute: "name" | "title",
  ): Promise<Array<{ id: string }>> {
    const url = connectUrl(this.#options.host, path);
    // Connect stores UTF-8, so no title holds an unpaired surrogate (and encodeURIComponent would throw on one).
    if (/\p{Cs}/u.test(title)) return [];
    const query = titleFilterQuery(title, attribute);
    const listed = await this.#call(operation, async () => {
      const response = await fetch(`${url.href}${query}`, {
        headers: { authorization: `Bearer ${this.#options.token}`, accept: "application/json" },
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      const body: unknown = await response.json().catch(() => undefined);
      if (!response.ok) throw { status: response.status, message: messageOf(body) };
      return body;
    });
    if (!Array.isArray(listed))
      throw new ConnectFailure("error", new Error(`${operation}: Connect did not answer a list`));
    if (listed.length > MAX_TITLE_MATCHES)
      throw ambiguousTitle(operation === "find_vault" ? "vault" : "item");
    // Connect's filter is exact already; checking again keeps a lenient server from widening a match.
    return listed.filter(
      (entry): entry is { id: string } =>
        typeof entry === "object" &&
        entry !== null &&
        // Vaults carry their title as `name`, items as `title`.
        (entry.title ?? entry.name) === title &&
        typeof entry.id === "string",
    );
  }

  /** Times one Connect call and turns its failure into the problem the client gets. */
  async #call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    const end = this.#options.metrics.connectDuration.startTimer({ operation });
    try {
      const result = await run();
      end({ outcome: "ok" });
      return result;
    } catch (error) {
      const kind = classifyConnectError(error);
      end({ outcome: kind });
      if (kind === "not_found") throw credentialNotFound();
      if (kind === "rejected") {
        this.#options.logger.error(
          { operation, status: (error as { status?: number }).status },
          "Connect REJECTED the origin's token: OP_CONNECT_TOKEN is wrong, expired or lacks access",
        );
      } else {
        const code = (error as { code?: unknown }).code;
        this.#options.logger.warn(
          { operation, kind, code: typeof code === "string" ? code : undefined },
          "Connect call failed",
        );
      }
      throw new ConnectFailure(kind, error);
    }
  }
}

/** `?filter=title eq "<title>"`: the title as a JSON string (SCIM escaping), the whole filter percent-encoded. */
export function titleFilterQuery(title: string, attribute: "name" | "title" = "title"): string {
  return `?filter=${encodeURIComponent(`${attribute} eq ${JSON.stringify(title)}`)}`;
}

/** Appends to OP_CONNECT_HOST's path, as the SDK does: `new URL("/v1/…", host)` would drop a prefix. */
function connectUrl(host: string, path: string): URL {
  return new URL(`${host.replace(/\/+$/, "")}${path}`);
}

/** Fields match by label; a label shared by two fields is ambiguous; failing a label, by field id. */
function findField(item: FullItem, name: string): ItemField {
  const fields = item.fields ?? [];
  const byLabel = fields.filter((field) => field.label === name);
  if (byLabel.length > 1) throw ambiguousTitle("field");
  const field = byLabel[0] ?? fields.find((candidate) => candidate.id === name);
  if (!field) throw credentialNotFound();
  return field;
}

function syncDependency(body: unknown): { status?: unknown } | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const dependencies = (body as { dependencies?: unknown }).dependencies;
  if (!Array.isArray(dependencies)) return undefined;
  return dependencies.find(
    (dependency): dependency is { status?: unknown } =>
      typeof dependency === "object" && dependency !== null && dependency.service === "sync",
  );
}

function unready(reachable: boolean, latencyMs: number, detail: string): OriginReadiness {
  return { status: "unready", connect: { reachable, synced: false, latencyMs, detail } };
}

function messageOf(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const message = (body as { message?: unknown }).message;
  return typeof message === "string" ? message : undefined;
}
