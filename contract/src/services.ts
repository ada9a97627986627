import { z } from "zod";

/** A service name as callers write it in a request, e.g. `chittyid`. */
export const ServiceSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, "lower-case letters, digits, '.', '_' or '-'");

export const ALL_SERVICES = "*";
export const MAX_TOKEN_SERVICES = 32;

/**
 * The services a token may act for: non-empty, no repeats, and `*` (every service) only on its
 * own, so "all" is always written on purpose. Sorted, so stored rows and signed headers compare equal.
 */
export const TokenServicesSchema = z
  .array(z.union([z.literal(ALL_SERVICES), ServiceSchema]))
  .min(1)
  .max(MAX_TOKEN_SERVICES)
  .refine((services) => new Set(services).size === services.length, "services must not repeat")
  .refine(
    (services) => !services.includes(ALL_SERVICES) || services.length === 1,
    `"${ALL_SERVICES}" must be the only entry when given`,
  )
  .transform((services) => [...services].sort());

/** True when a token bound to `granted` may act for `service`. */
export function servicesAllow(granted: readonly string[], service: string): boolean {
  return granted.includes(ALL_SERVICES) || granted.includes(service);
}

/** The signed header's text: the list joined by commas; empty for a token that names none. */
export function formatServicesHeader(services: readonly string[]): string {
  return services.join(",");
}

const SERVICES_HEADER = /^(?:\*|[a-z0-9][a-z0-9._-]{0,63})(?:,[a-z0-9][a-z0-9._-]{0,63}){0,31}$/;

/**
 * Parses the header text; undefined when it is not a list a token could carry. Runs on every signed
 * request, so it checks by hand what TokenServicesSchema would: the grammar, then strictly
 * ascending entries (sorted, no repeats) and `*` alone.
 */
export function parseServicesHeader(text: string): string[] | undefined {
  if (text === "") return [];
  if (!SERVICES_HEADER.test(text)) return undefined;
  const services = text.split(",");
  if (services.length > 1 && services[0] === ALL_SERVICES) return undefined;
  for (let i = 1; i < services.length; i++) {
    if ((services[i - 1] as string) >= (services[i] as string)) return undefined;
  }
  return services;
}
