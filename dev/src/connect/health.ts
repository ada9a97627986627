/**
 * Connect's sync state. A real Connect server has no vault data until a client presents a token:
 * until then `/health` answers 200 with the sync dependency in TOKEN_NEEDED. The first request
 * with a valid token starts the sync; this server finishes it at once.
 */
export interface SyncState {
  readonly synced: boolean;
  markSynced(): void;
}

export function createSyncState(synced = false): SyncState {
  let state = synced;
  return {
    get synced() {
      return state;
    },
    markSynced() {
      state = true;
    },
  };
}

/** The Connect version whose OpenAPI document this server follows, marked as the dev double. */
export const CONNECT_VERSION = "1.7.1+chittyconnect-dev";

export function healthReport(sync: SyncState) {
  return {
    name: "1Password Connect API",
    version: CONNECT_VERSION,
    dependencies: [
      sync.synced
        ? { service: "sync", status: "ACTIVE", message: "vaults loaded from the fixture" }
        : {
            service: "sync",
            status: "TOKEN_NEEDED",
            message: "waiting for the first authenticated API request",
          },
    ],
  };
}
