/**
 * Credentials that travel in a URL: a presigned download's token is its path segment, and a WebSocket
 * ticket is a query parameter (browsers cannot set headers on an upgrade). `wrangler dev` prints every
 * request's full URL (`[wrangler:info] GET /api/v1/documents/presigned/<token> 200 OK`), so the stack
 * runner rewrites the edge's lines before they reach the terminal or a log file.
 */
// `:token` is the route pattern the edge's own request log prints: not a credential.
const PRESIGNED_TOKEN = /(\/presigned\/)(?!:token\b)[^\s/?#"']+/g;
const TICKET_PARAM = /([?&]ticket=)[^\s&#"']+/g;

export const REDACTED = "[redacted]";

export function redactUrlCredentials(line: string): string {
  return line.replace(PRESIGNED_TOKEN, `$1${REDACTED}`).replace(TICKET_PARAM, `$1${REDACTED}`);
}
