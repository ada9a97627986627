import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The floor the origin's fixed cost is measured against: plain `node:http` answering a 256-byte
 * JSON body to any request, after reading (and dropping) the request body. Run as its own process
 * by credentials.bench.ts; prints its URL on stdout.
 */
const PADDING = 256 - JSON.stringify({ status: "ok", padding: "" }).length;
const BARE_BODY = JSON.stringify({ status: "ok", padding: "x".repeat(PADDING) });

const server = createServer((request, response) => {
  request.resume();
  request.on("end", () => {
    response.writeHead(200, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(BARE_BODY),
    });
    response.end(BARE_BODY);
  });
});
server.keepAliveTimeout = 5000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
