import { OwnerIdSchema, randomBase64Url } from "@chittyconnect/contract";

export const TICKET_TTL_MS = 30_000;
/** Unused tickets an owner may hold at once; each lives 30 s. */
export const MAX_OPEN_TICKETS = 100;
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/**
 * `wst.<owner>.<secret>`: the owner routes the upgrade to the right object (which alone can redeem
 * the ticket), the 32-byte secret is what proves it. Only the secret's SHA-256 is stored.
 */
export function newTicket(owner: string): { ticket: string; secret: string } {
  const secret = randomBase64Url(32);
  return { ticket: `wst.${owner}.${secret}`, secret };
}

export function parseTicket(ticket: string): { owner: string; secret: string } | undefined {
  const [prefix, owner, secret, ...rest] = ticket.split(".");
  if (prefix !== "wst" || rest.length > 0 || secret === undefined || !SECRET.test(secret)) return undefined;
  return OwnerIdSchema.safeParse(owner).success ? { owner: owner as string, secret } : undefined;
}
