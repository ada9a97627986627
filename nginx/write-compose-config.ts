import { writeFileSync } from "node:fs";
import { COMPOSE_NGINX_CONFIG_PATH, renderComposeNginxConfig } from "./compose-config.ts";

/** `node nginx/write-compose-config.ts`: regenerates nginx/nginx.conf after render.ts changes. */
writeFileSync(COMPOSE_NGINX_CONFIG_PATH, renderComposeNginxConfig());
process.stdout.write(`wrote ${COMPOSE_NGINX_CONFIG_PATH.pathname}\n`);
