import type { RequestLog } from "../logger.ts";

/** Per-request values the middlewares hand to the routes. */
export interface OriginVariables {
  requestId: string;
  log: RequestLog;
  /** The verified x-chitty-owner; set only after the signature checked out. */
  owner: string;
  /** The services of the caller's token, from the signed x-chitty-services; [] when it names none. */
  services: string[];
  /** The request body bytes, read once under the size limit. */
  body: Uint8Array<ArrayBuffer>;
}

export interface OriginEnv {
  Variables: OriginVariables;
}
