import { readFileSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { parse } from "yaml";
import { cloudflaredConfigPath, isLoopbackHostPort, mountedSecrets, serviceUser } from "./compose.ts";
import { interpolate, isObject } from "./compose-files.ts";
import { type SectionResult, section } from "./report.ts";
import { canRead } from "./secrets.ts";

const NGINX_SERVICE = "http://nginx:8080";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_CONFIG_BYTES = 65_536;

/**
 * The locally-managed tunnel's config.yml (only when compose runs cloudflared with --config):
 * a real tunnel id, the credentials at the secret compose mounts, metrics on loopback, every
 * hostname served by nginx and a catch-all last, and readable by cloudflared's user.
 */
export function checkCloudflaredConfig(
  doc: unknown,
  env: Readonly<Record<string, string>>,
  baseDir: string,
): SectionResult | undefined {
  const target = cloudflaredConfigPath(doc);
  if (target === undefined) return undefined;
  const result = section("cloudflared");
  const err = (message: string) => result.errors.push(message);
  const services = isObject(doc) && isObject(doc.services) ? doc.services : {};
  const cloudflared = services.cloudflared;
  const mount = (isObject(cloudflared) && Array.isArray(cloudflared.volumes) ? cloudflared.volumes : [])
    .map(String)
    .find((volume) => volume.split(":")[1] === target);
  if (mount === undefined) {
    err(`--config ${target} is not mounted from the host`);
    return result;
  }
  const hostPath = interpolate(mount.split(":")[0] ?? "", env);
  const file = isAbsolute(hostPath) ? hostPath : resolve(baseDir, hostPath);
  let config: unknown;
  try {
    const stat = statSync(file);
    if (stat.size > MAX_CONFIG_BYTES) throw new Error(`larger than ${MAX_CONFIG_BYTES} bytes`);
    const user = serviceUser(cloudflared);
    if (user && !canRead(user, { uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o777 })) {
      err(`${file}: cloudflared (${user.uid}:${user.gid}) cannot read it`);
    }
    config = parse(readFileSync(file, "utf8"));
  } catch (error) {
    err(`${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return result;
  }
  if (!isObject(config)) {
    err(`${file}: not a YAML map`);
    return result;
  }
  if (typeof config.tunnel !== "string" || !UUID.test(config.tunnel)) {
    err(
      `tunnel: must be the tunnel's id (cloudflared tunnel create prints it), got ${JSON.stringify(config.tunnel)}`,
    );
  }
  const secrets = new Set(mountedSecrets(cloudflared).values());
  if (typeof config["credentials-file"] !== "string" || !secrets.has(config["credentials-file"])) {
    err(
      `credentials-file: must be a secret compose mounts into cloudflared (${[...secrets].join(", ") || "none"})`,
    );
  }
  if (config.metrics !== undefined && !isLoopbackHostPort(String(config.metrics))) {
    err(`metrics: must listen on loopback only, got ${String(config.metrics)}`);
  }
  const ingress = Array.isArray(config.ingress) ? config.ingress : [];
  const last = ingress.at(-1);
  if (!isObject(last) || "hostname" in last || "path" in last)
    err("ingress: the last rule must be a catch-all");
  for (const rule of ingress.slice(0, -1)) {
    if (!isObject(rule)) continue;
    if (rule.service !== NGINX_SERVICE) {
      err(
        `ingress: ${String(rule.hostname)} must be served by ${NGINX_SERVICE}, got ${String(rule.service)}`,
      );
    }
    if (typeof rule.hostname === "string" && /(^|\.)example\.(com|org|net)$/.test(rule.hostname)) {
      result.warnings.push(`ingress: ${rule.hostname} is a placeholder hostname`);
    }
  }
  if (ingress.length < 2) err("ingress: needs the origin hostname and a catch-all");
  return result;
}
