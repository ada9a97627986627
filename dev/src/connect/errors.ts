import type { ContentfulStatusCode } from "hono/utils/http-status";

/** A failure Connect reports as its ErrorResponse body: `{ status, message }`. */
export class ConnectError extends Error {
  readonly status: ContentfulStatusCode;

  constructor(status: ContentfulStatusCode, message: string) {
    super(message);
    this.name = "ConnectError";
    this.status = status;
  }

  get body(): { status: number; message: string } {
    return { status: this.status, message: this.message };
  }
}

// The wording follows the examples in 1Password's Connect OpenAPI document.
export const vaultNotFound = (vaultId: string) => new ConnectError(404, `vault ${vaultId} not found`);
export const itemNotFound = (itemId: string) => new ConnectError(404, `item ${itemId} not found`);
export const badRequest = (message: string) => new ConnectError(400, message);
