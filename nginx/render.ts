import { isIP } from "node:net";

/**
 * The one nginx configuration of ChittyConnect, rendered for wherever nginx runs: the compose
 * stack (nginx/nginx.conf, written by nginx/write-compose-config.ts), the local stack runner and
 * the tests. Only addresses, ports and file locations vary; every rule is the same everywhere.
 */
export interface NginxRenderOptions {
  listenPort: number;
  /** Address to bind. Default 127.0.0.1; the compose container binds 0.0.0.0. */
  listenHost?: string;
  /**
   * The origin as host:port, e.g. 127.0.0.1:8090 or origin:8090; several (IP:port) for origin
   * replicas, balanced round-robin. A host name that resolves to several replicas (compose) is
   * balanced the same way through the resolver.
   */
  upstream: string | readonly string[];
  /** Directory for nginx's temp files and micro-cache; must exist and be writable. */
  prefix: string;
  accessLog: string;
  errorLog: string;
  pidFile: string;
  /**
   * Peers allowed to name the client in CF-Connecting-IP: the tunnel's cloudflared connectors.
   * From anyone else the header is ignored and the peer address is the client. Default: nobody.
   */
  trustedProxies?: readonly string[];
  /** DNS server for a host-name upstream, re-resolved every 10 s so a recreated origin is found. */
  resolver?: string;
  /** A second listener serving only the origin's /metrics, to these peers (IPs or CIDRs) only. */
  metrics?: { listenPort: number; allow: readonly string[] };
}

/** Credential routes: 100 requests a minute per owner, a burst of 100 answered at once. */
export const RATE_LIMIT = { perMinute: 100, burst: 99 } as const;
/** Every owner together: a ceiling for safety, far above one owner's share. */
export const GLOBAL_RATE_LIMIT = { perSecond: 50, burst: 200 } as const;
/** The upstream group's name when nginx balances several origin replicas. */
const UPSTREAM_GROUP = "chitty_origins";
/** Matches the origin's default MAX_BODY_BYTES; the origin enforces its own limit as well. */
export const MAX_BODY_BYTES = 65_536;
export const PROBLEM_BASE = "https://chittyconnect.dev/problems/";

/** Statuses nginx answers itself, each with an RFC 9457 body like the origin's. */
const NGINX_PROBLEMS = [
  { status: 400, code: "bad_request", title: "Bad request", detail: "The request could not be parsed." },
  { status: 404, code: "not_found", title: "Not found", detail: "No such route." },
  { status: 405, code: "method_not_allowed", title: "Method not allowed", detail: "Method not allowed." },
  { status: 408, code: "request_timeout", title: "Request timeout", detail: "The request was too slow." },
  {
    status: 413,
    code: "payload_too_large",
    title: "Payload too large",
    detail: `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`,
  },
  { status: 414, code: "uri_too_long", title: "URI too long", detail: "The request URI is too long." },
  {
    status: 429,
    code: "rate_limited",
    title: "Too many requests",
    detail: `Credential routes allow ${RATE_LIMIT.perMinute} requests a minute per owner.`,
  },
  {
    status: 400,
    code: "headers_too_large",
    title: "Request headers too large",
    detail: "The request headers are too large.",
    nginxStatus: 494,
  },
  { status: 500, code: "proxy_error", title: "Internal error", detail: "The proxy failed." },
  { status: 502, code: "origin_unavailable", title: "Bad gateway", detail: "The origin did not answer." },
  { status: 503, code: "service_unavailable", title: "Service unavailable", detail: "Try again shortly." },
  {
    status: 504,
    code: "origin_timeout",
    title: "Gateway timeout",
    detail: "The origin did not answer in time.",
  },
] as const;

export class NginxConfigError extends Error {
  override readonly name = "NginxConfigError";
}

export function renderNginxConfig(options: NginxRenderOptions): string {
  const listenHost = options.listenHost ?? "127.0.0.1";
  const port = checkPort(options.listenPort);
  const upstreams = (typeof options.upstream === "string" ? [options.upstream] : [...options.upstream]).map(
    checkUpstream,
  );
  const [upstream] = upstreams;
  if (upstream === undefined) throw new NginxConfigError("upstream must name at least one origin");
  if (upstreams.length > 1 && upstreams.some((entry) => isIP(hostOf(entry)) === 0)) {
    throw new NginxConfigError("several upstreams must be IP:port; a host name is re-resolved instead");
  }
  const trusted = (options.trustedProxies ?? []).map(checkCidr);
  const resolver = options.resolver === undefined ? undefined : checkIp(options.resolver, "resolver");
  if (isIP(hostOf(upstream)) === 0 && resolver === undefined) {
    throw new NginxConfigError(`upstream ${upstream} is a host name: pass a resolver (compose: 127.0.0.11)`);
  }
  quotePath(options.prefix, "prefix");
  const temp = (name: string) => quotePath(`${options.prefix.replace(/\/+$/, "")}/${name}`, "prefix");
  const listen = listenHost === "0.0.0.0" ? String(port) : `${listenAddress(listenHost)}:${port}`;

  const realIp =
    trusted.length === 0
      ? "  # No trusted proxies: CF-Connecting-IP is ignored and the peer address is the client."
      : trusted.map((cidr) => `  set_real_ip_from ${cidr};`).join("\n");

  const problemLocations = NGINX_PROBLEMS.map((problem) => {
    const body = JSON.stringify({
      type: `${PROBLEM_BASE}${problem.code}`,
      title: problem.title,
      status: problem.status,
      code: problem.code,
      detail: problem.detail,
      requestId: "__REQUEST_ID__",
    }).replace('"__REQUEST_ID__"', '"$chitty_request_id"');
    return [
      `    location @${problem.code} {`,
      "      default_type application/problem+json;",
      `      return ${problem.status} '${body}';`,
      "    }",
    ].join("\n");
  }).join("\n");
  const errorPages = NGINX_PROBLEMS.map(
    (problem) =>
      `    error_page ${"nginxStatus" in problem ? problem.nginxStatus : problem.status} = @${problem.code};`,
  ).join("\n");

  return `# ChittyConnect nginx: the only way from the tunnel to the origin.
# Generated by nginx/render.ts; edit that file, not a rendered copy.
worker_processes 2;
pid ${quotePath(options.pidFile, "pidFile")};
error_log ${quotePath(options.errorLog, "errorLog")} warn;

events {
  worker_connections 1024;
}

http {
  server_tokens off;
  default_type application/octet-stream;
  # Every temp path lives in the prefix so nginx runs unprivileged on a read-only root.
  client_body_temp_path ${temp("client_body_temp")};
  proxy_temp_path ${temp("proxy_temp")};
  fastcgi_temp_path ${temp("fastcgi_temp")};
  uwsgi_temp_path ${temp("uwsgi_temp")};
  scgi_temp_path ${temp("scgi_temp")};

  # Slow or oversized requests are cut off before they reach the origin. Request bodies are
  # held in memory (buffer = limit), so nothing a client sends is written to disk.
  client_header_timeout 10s;
  client_body_timeout 10s;
  send_timeout 15s;
  keepalive_timeout 30s;
  keepalive_requests 1000;
  client_header_buffer_size 2k;
  large_client_header_buffers 4 16k;
  client_max_body_size ${MAX_BODY_BYTES};
  client_body_buffer_size ${MAX_BODY_BYTES};

  # The tunnel's connectors name the real client in CF-Connecting-IP; nobody else may.
  real_ip_header CF-Connecting-IP;
  real_ip_recursive off;
${realIp}

  # A caller's request id is carried through when it is well-formed; otherwise nginx makes one.
  map $http_x_request_id $chitty_request_id {
    "~^[A-Za-z0-9._:-]{1,128}$" $http_x_request_id;
    default $request_id;
  }
  map $status $chitty_retry_after {
    429 1;
    default "";
  }

  # Credential routes: ${RATE_LIMIT.perMinute} requests a minute per owner, one every ${60_000 / RATE_LIMIT.perMinute} ms
  # sustained, with a burst of ${RATE_LIMIT.burst + 1} served at once. Every request arrives from cloudflared, so the
  # client address cannot tell owners apart: the key is the owner the edge signs (X-Chitty-Owner).
  # Only the edge reaches nginx (through the tunnel) and the origin rejects a header that does not
  # match the signature, so a forged owner spends only that name's bucket; requests without a
  # well-formed owner share one bucket. The global zone caps all owners together.
  map $http_x_chitty_owner $chitty_rate_owner {
    "~^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$" $http_x_chitty_owner;
    default "-";
  }
  limit_req_zone $chitty_rate_owner zone=credentials:10m rate=${RATE_LIMIT.perMinute}r/m;
  limit_req_zone chitty zone=credentials_all:1m rate=${GLOBAL_RATE_LIMIT.perSecond}r/s;
  limit_req_status 429;
  limit_req_log_level notice;

  # Access log: no query strings, no Authorization, no signature or Access headers, no Referer.
  log_format chitty escape=json '{"time":"$time_iso8601","client":"$remote_addr",'
    '"request_id":"$chitty_request_id","method":"$request_method","path":"$uri",'
    '"status":$status,"bytes":$body_bytes_sent,"request_time":$request_time,'
    '"upstream_time":"$upstream_response_time","cache":"$upstream_cache_status",'
    '"user_agent":"$http_user_agent"}';
  access_log ${quotePath(options.accessLog, "accessLog")} chitty;

  # Micro-cache for health only; credential responses never enter it.
  proxy_cache_path ${temp("health_cache")} levels=1 keys_zone=health:1m max_size=1m inactive=1m use_temp_path=off;
${resolver === undefined ? "" : `  resolver ${listenAddress(resolver)} valid=10s ipv6=off;\n  resolver_timeout 5s;\n`}${upstreamGroup(upstreams)}
  server {
    listen ${listen};
    server_name _;
    set $chitty_origin "http://${upstreams.length > 1 ? UPSTREAM_GROUP : upstream}";

    add_header X-Content-Type-Options "nosniff" always;
    add_header X-Frame-Options "DENY" always;
    add_header Referrer-Policy "no-referrer" always;
    add_header Content-Security-Policy "default-src 'none'; frame-ancestors 'none'" always;
    add_header Cross-Origin-Resource-Policy "same-origin" always;
    add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
    add_header Cache-Control "no-store" always;
    add_header X-Request-Id $chitty_request_id always;
    add_header Retry-After $chitty_retry_after always;
    # Locations below add no headers of their own, so they all inherit the set above.

    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Request-Id $chitty_request_id;
    # The origin authenticates by signature and Access JWT; these never need to reach it.
    proxy_set_header Authorization "";
    proxy_set_header CF-Access-Client-Secret "";
    proxy_hide_header Cache-Control;
    proxy_hide_header X-Request-Id;
    proxy_hide_header X-Powered-By;
    proxy_redirect off;
    proxy_connect_timeout 5s;
    proxy_send_timeout 15s;
    proxy_read_timeout 15s;
    # A provision or rotation must never be replayed against the origin.
    proxy_next_upstream off;
    proxy_buffer_size 16k;
    proxy_buffers 8 16k;
    proxy_max_temp_file_size 0;

${errorPages}

    location = /nginx-healthz {
      access_log off;
      default_type application/json;
      return 200 '{"status":"ok"}';
    }

    location = /healthz {
      proxy_cache health;
      proxy_cache_key "$request_method $uri";
      proxy_cache_valid 200 503 5s;
      proxy_cache_lock on;
      proxy_ignore_headers Cache-Control Expires Set-Cookie;
      proxy_pass $chitty_origin;
    }

    location = /readyz {
      proxy_cache health;
      proxy_cache_key "$request_method $uri";
      proxy_cache_valid 200 503 5s;
      proxy_cache_lock on;
      proxy_ignore_headers Cache-Control Expires Set-Cookie;
      proxy_pass $chitty_origin;
    }

    # Prometheus scrapes the origin inside the compose network, never through the tunnel.
    location = /metrics {
      return 404;
    }

    # Credential and audit routes (everything the origin serves under /v1/).
    location /v1/ {
      limit_req zone=credentials burst=${RATE_LIMIT.burst} nodelay;
      limit_req zone=credentials_all burst=${GLOBAL_RATE_LIMIT.burst} nodelay;
      proxy_cache off;
      proxy_no_cache 1;
      proxy_cache_bypass 1;
      proxy_pass $chitty_origin;
    }

    location / {
      return 404;
    }

${problemLocations}
  }
${options.metrics === undefined ? "" : metricsServer(options.metrics, listenHost, upstream)}}
`;
}

/**
 * Prometheus reaches the origin's /metrics here and nowhere else. The address checked is the
 * peer's own: CF-Connecting-IP is not consulted on this listener, so no tunnel client can claim
 * to be inside the allowed range.
 */
function metricsServer(
  metrics: { listenPort: number; allow: readonly string[] },
  listenHost: string,
  upstream: string,
): string {
  const port = checkPort(metrics.listenPort);
  if (metrics.allow.length === 0) throw new NginxConfigError("metrics.allow must name at least one peer");
  const listen = listenHost === "0.0.0.0" ? String(port) : `${listenAddress(listenHost)}:${port}`;
  const allow = metrics.allow.map((peer) => `    allow ${checkCidr(peer)};`).join("\n");
  return `
  server {
    listen ${listen};
    server_name _;
    access_log off;
    real_ip_header proxy_protocol;
${allow}
    deny all;
    set $chitty_origin "http://${upstream}";
    add_header Cache-Control "no-store" always;

    location = /metrics {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "";
      proxy_pass $chitty_origin;
    }

    location / {
      return 404;
    }
  }
`;
}

/**
 * Origin replicas: round-robin, and never a second try on another replica (proxy_next_upstream
 * off), because a provision or rotation must not run twice.
 */
function upstreamGroup(upstreams: readonly string[]): string {
  if (upstreams.length < 2) return "";
  const servers = upstreams.map((entry) => `    server ${entry};`).join("\n");
  return `\n  # Origin replicas share one nonce store (REDIS_URL), so a replay fails on any of them.\n  upstream ${UPSTREAM_GROUP} {\n${servers}\n  }\n`;
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new NginxConfigError(`listenPort must be an integer 1..65535, got ${port}`);
  }
  return port;
}

const HOST_NAME =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function hostOf(hostPort: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(hostPort);
  if (bracketed?.[1]) return bracketed[1];
  return hostPort.slice(0, hostPort.lastIndexOf(":"));
}

function checkUpstream(upstream: string): string {
  const match = /^(.+):(\d{1,5})$/.exec(upstream);
  const host = match ? hostOf(upstream) : "";
  const port = match ? Number(match[2]) : 0;
  const hostOk = isIP(host) === 4 || (isIP(host) === 6 && upstream.startsWith("[")) || HOST_NAME.test(host);
  if (!match || !hostOk || port < 1 || port > 65_535) {
    throw new NginxConfigError(
      `upstream must be host:port (IPv6 in brackets), got ${JSON.stringify(upstream)}`,
    );
  }
  return upstream;
}

function checkIp(value: string, name: string): string {
  if (isIP(value) === 0)
    throw new NginxConfigError(`${name} must be an IP address, got ${JSON.stringify(value)}`);
  return value;
}

function checkCidr(value: string): string {
  const [address, bits, ...rest] = value.split("/");
  const family = isIP(address ?? "");
  const max = family === 4 ? 32 : 128;
  const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
  if (family === 0 || !bitsOk || rest.length > 0) {
    throw new NginxConfigError(`trusted proxy must be an IP or CIDR, got ${JSON.stringify(value)}`);
  }
  return value;
}

function listenAddress(host: string): string {
  if (isIP(host) === 6) return `[${host}]`;
  if (isIP(host) === 4 || host === "localhost") return host;
  throw new NginxConfigError(`listenHost must be an IP address, got ${JSON.stringify(host)}`);
}

/** Paths are quoted; characters nginx would read as syntax or variables are refused. */
function quotePath(path: string, name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (!path.startsWith("/") || /["\\$;{}\u0000-\u001f\u007f]/.test(path) || path.length > 1024) {
    throw new NginxConfigError(`${name} must be an absolute path without quotes, $, ; or braces: ${path}`);
  }
  return `"${path}"`;
}
