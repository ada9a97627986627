import { type NonceStore, NonceStoreUnavailableError } from "@chittyconnect/contract";
import { createClient } from "@redis/client";
import type { Logger } from "../logger.ts";

/** A nonce must be answered quickly or the request is refused; a slow store must not hold requests. */
export const REDIS_COMMAND_TIMEOUT_MS = 500;
const KEY_PREFIX = "chittyconnect:nonce:";

/** The two calls this store makes; the client's own type is generic over modules we never load. */
interface RedisConnection {
  sendCommand(args: string[]): Promise<unknown>;
  destroy(): void;
}

export interface RedisNonceStoreOptions {
  url: string;
  logger: Logger;
  commandTimeoutMs?: number;
}

/**
 * Nonces shared by every origin replica in one Redis or Valkey: `SET key 1 NX PX ttl` is one
 * atomic "remember unless seen" across processes, and the server forgets each key when its
 * signature window ends. Any error or timeout refuses the request (503) rather than accepting
 * it unchecked; commands are not queued while the connection is down.
 */
export class RedisNonceStore implements NonceStore {
  readonly #client: RedisConnection;
  readonly #timeoutMs: number;

  private constructor(client: RedisConnection, timeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
  }

  /** Connects before the origin listens, so a wrong REDIS_URL fails the start, not the first request. */
  static async connect(options: RedisNonceStoreOptions): Promise<RedisNonceStore> {
    let connected = false;
    const client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: 5000,
        // Retry for ever once running; at start, the first failure is the answer.
        reconnectStrategy: (retries: number, cause: Error) =>
          connected ? Math.min(100 * 2 ** retries, 2000) : cause,
      },
    });
    let lastLogged = "";
    // Without a listener the client's error event would crash the process. Fields we chose only:
    // the error object can carry the URL, whose password is a secret.
    client.on("error", (error: unknown) => {
      const code = (error as { code?: unknown }).code;
      const kind = typeof code === "string" ? code : error instanceof Error ? error.name : "unknown";
      if (kind !== lastLogged) options.logger.warn({ kind }, "nonce store connection error");
      lastLogged = kind;
    });
    client.on("ready", () => {
      if (lastLogged !== "") options.logger.info("nonce store connection restored");
      lastLogged = "";
    });
    try {
      await client.connect();
      connected = true;
    } catch (error) {
      client.destroy();
      const code = (error as { code?: unknown }).code;
      throw new Error(
        `cannot reach the nonce store at REDIS_URL (${typeof code === "string" ? code : "error"})`,
      );
    }
    return new RedisNonceStore(client, options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS);
  }

  async remember(nonce: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
    const ttlMs = Math.max(1, Math.ceil(expiresAtMs - nowMs));
    // The client's own command timeout stops applying once a command is written, and a frozen
    // server never answers written ones: the deadline is kept here.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new NonceStoreUnavailableError("nonce store did not answer in time")),
        this.#timeoutMs,
      );
    });
    try {
      const reply = await Promise.race([
        this.#client.sendCommand(["SET", KEY_PREFIX + nonce, "1", "NX", "PX", String(ttlMs)]),
        deadline,
      ]);
      return reply !== null;
    } catch (error) {
      if (error instanceof NonceStoreUnavailableError) throw error;
      throw new NonceStoreUnavailableError("nonce store failed", { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#client.destroy();
  }
}
