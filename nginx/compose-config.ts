import { renderNginxConfig } from "./render.ts";

/** The tunnel network's subnet in docker-compose.yml: only cloudflared may name the client. */
export const COMPOSE_TUNNEL_SUBNET = "172.30.53.0/24";
export const COMPOSE_NGINX_PORT = 8080;
/** The metrics network's subnet: a Prometheus there scrapes nginx:9145/metrics. */
export const COMPOSE_METRICS_SUBNET = "172.30.55.0/24";
export const COMPOSE_METRICS_PORT = 9145;
export const COMPOSE_NGINX_CONFIG_PATH = new URL("./nginx.conf", import.meta.url);

/** nginx.conf as the compose stack runs it: non-root, read-only root, state on a tmpfs prefix. */
export function renderComposeNginxConfig(): string {
  return renderNginxConfig({
    listenHost: "0.0.0.0",
    listenPort: COMPOSE_NGINX_PORT,
    upstream: "origin:8090",
    resolver: "127.0.0.11",
    prefix: "/tmp/nginx",
    accessLog: "/dev/stdout",
    errorLog: "/dev/stderr",
    pidFile: "/tmp/nginx/nginx.pid",
    trustedProxies: [COMPOSE_TUNNEL_SUBNET],
    metrics: { listenPort: COMPOSE_METRICS_PORT, allow: [COMPOSE_METRICS_SUBNET] },
  });
}
