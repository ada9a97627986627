import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** All Prometheus metrics of one origin instance, on a private registry (tests create many). */
export interface OriginMetrics {
  registry: Registry;
  httpRequests: Counter<"method" | "route" | "status">;
  httpDuration: Histogram<"method" | "route" | "status">;
  connectDuration: Histogram<"operation" | "outcome">;
  titleCacheLookups: Counter<"kind" | "result">;
  credentialOutcomes: Counter<"action" | "outcome">;
}

export function createMetrics(): OriginMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: "origin_http_requests_total",
      help: "HTTP requests handled, by route template and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "origin_http_request_duration_seconds",
      help: "HTTP request latency",
      labelNames: ["method", "route", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    connectDuration: new Histogram({
      name: "origin_connect_call_duration_seconds",
      help: "Latency of calls to 1Password Connect",
      labelNames: ["operation", "outcome"],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    titleCacheLookups: new Counter({
      name: "origin_title_cache_lookups_total",
      help: "Vault/item title-to-id cache lookups (hit, miss, coalesced)",
      labelNames: ["kind", "result"],
      registers: [registry],
    }),
    credentialOutcomes: new Counter({
      name: "origin_credential_requests_total",
      help: "Provision and rotate attempts by outcome",
      labelNames: ["action", "outcome"],
      registers: [registry],
    }),
  };
}
