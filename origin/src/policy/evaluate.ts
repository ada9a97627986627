import { servicesAllow } from "@chittyconnect/contract";
import type { Policy } from "./schema.ts";

export type PolicyAction = "provision" | "rotate";

export interface PolicyRequest {
  /** Signed by the edge: the token's owner. */
  owner: string;
  /** The service the request names; it counts only when the token is bound to it. */
  service: string;
  /** Signed by the edge: the services the caller's token is bound to ("*" for all). */
  grantedServices: readonly string[];
  action: PolicyAction;
  /** The literal `vault/item/field` text the caller sent. */
  path: string;
  /** Caller-asserted and recorded; a rule's purposes narrow what must be claimed, they prove nothing. */
  purpose: string;
}

export type PolicyDecision =
  | { allowed: true; rule: number }
  | { allowed: false; reason: "service_not_granted" | "no_rule" };

/**
 * Default deny: allowed only when the token is bound to the requested service and one rule
 * matches on every dimension. A rule's services therefore match authenticated values only.
 */
export function evaluatePolicy(policy: Policy, request: PolicyRequest): PolicyDecision {
  if (!servicesAllow(request.grantedServices, request.service)) {
    return { allowed: false, reason: "service_not_granted" };
  }
  const index = policy.rules.findIndex(
    (rule) =>
      matchesListOrAny(rule.owners, request.owner) &&
      matchesListOrAny(rule.services, request.service) &&
      rule.actions.includes(request.action) &&
      matchesListOrAny(rule.purposes, request.purpose) &&
      rule.paths.some((pattern) => matchPath(pattern, request.path)),
  );
  return index === -1 ? { allowed: false, reason: "no_rule" } : { allowed: true, rule: index };
}

function matchesListOrAny(entries: readonly string[], value: string): boolean {
  return entries.some((entry) => entry === "*" || entry === value);
}

/** Matches `path` against a pattern of segments; `**` spans segments, `*` stays inside one. */
export function matchPath(pattern: string, path: string): boolean {
  return matchSegments(pattern.split("/"), 0, path.split("/"), 0);
}

function matchSegments(pattern: string[], p: number, path: string[], s: number): boolean {
  if (p === pattern.length) return s === path.length;
  const head = pattern[p] as string;
  if (head === "**") {
    for (let next = s; next <= path.length; next++) {
      if (matchSegments(pattern, p + 1, path, next)) return true;
    }
    return false;
  }
  if (s === path.length) return false;
  return matchSegment(head, path[s] as string) && matchSegments(pattern, p + 1, path, s + 1);
}

/** Glob within one segment: `*` is any run of characters (the caller's segment has no `/`). */
export function matchSegment(pattern: string, segment: string): boolean {
  if (!pattern.includes("*")) return pattern === segment;
  const parts = pattern.split("*");
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  if (!segment.startsWith(first)) return false;
  let position = first.length;
  for (const middle of parts.slice(1, -1)) {
    const found = segment.indexOf(middle, position);
    if (found === -1) return false;
    position = found + middle.length;
  }
  return segment.length - last.length >= position && segment.endsWith(last);
}
