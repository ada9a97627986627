import { parse } from "yaml";
import { type SectionResult, section } from "./report.ts";

/** The services the production stack must have, and the ones holding 1Password's data. */
export const REQUIRED_SERVICES = ["connect-api", "connect-sync", "origin", "nginx", "cloudflared"] as const;
const CONNECT_SERVICES = ["connect-api", "connect-sync"] as const;
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|KEY|SESSION|CREDENTIAL/i;
const MAX_COMPOSE_BYTES = 262_144;

type Doc = Record<string, unknown>;

const isObject = (value: unknown): value is Doc =>
  value !== null && typeof value === "object" && !Array.isArray(value);

export function parseComposeText(text: string): unknown {
  if (Buffer.byteLength(text) > MAX_COMPOSE_BYTES) throw new Error(`larger than ${MAX_COMPOSE_BYTES} bytes`);
  // `merge` resolves the `<<: *hardening` keys the way compose does.
  return parse(text, { merge: true, maxAliasCount: 100 });
}

/** An image reference pinned to an exact version: a digest, or a tag with major.minor.patch. */
export function isPinnedImage(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const tag = /:([^/:]+)$/.exec(image)?.[1];
  return tag !== undefined && tag !== "latest" && /^v?\d+\.\d+\.\d+/.test(tag);
}

/** A service that runs once and exits; the rules for long-running services do not apply to it. */
function isOneShot(service: Doc): boolean {
  return service.restart === "no";
}

/** The properties issue 3 asks of docker-compose.yml, so they cannot silently regress. */
export function checkCompose(doc: unknown): SectionResult {
  const result = section("compose");
  const err = (message: string) => result.errors.push(message);
  if (!isObject(doc) || !isObject(doc.services)) {
    err("no services: top-level `services` map missing");
    return result;
  }
  const services = doc.services;
  const networks = isObject(doc.networks) ? doc.networks : {};
  for (const name of REQUIRED_SERVICES) if (!isObject(services[name])) err(`service ${name} missing`);

  const oneShots = new Set(
    Object.entries(services)
      .filter(([, service]) => isObject(service) && isOneShot(service))
      .map(([name]) => name),
  );
  for (const [name, raw] of Object.entries(services)) {
    if (!isObject(raw)) {
      err(`${name}: not a map`);
      continue;
    }
    checkService(name, raw, oneShots, result);
  }

  for (const name of CONNECT_SERVICES) {
    const service = services[name];
    if (!isObject(service)) continue;
    const image = typeof service.image === "string" ? service.image : "";
    if (!image.startsWith(`1password/${name}:1.7.`))
      err(`${name}: image must be 1password/${name}:1.7.x, got ${image}`);
    const attached = networkNames(service);
    if (!attached.some((network) => isObject(networks[network]) && networks[network].internal === true)) {
      err(`${name}: must be on an internal network`);
    }
    if (!listOf(service.secrets).some((secret) => secretName(secret) === "op_credentials")) {
      err(`${name}: must receive the credentials file as the compose secret op_credentials`);
    }
  }
  const secrets = isObject(doc.secrets) ? doc.secrets : {};
  const credentials = secrets.op_credentials;
  if (!isObject(credentials) || typeof credentials.file !== "string") {
    err("secrets.op_credentials: must be a file secret (the 1password-credentials.json)");
  }

  const origin = services.origin;
  if (isObject(origin)) {
    const mounts = listOf(origin.volumes).filter((volume): volume is string => typeof volume === "string");
    const audit = mounts.find((volume) => volume.split(":")[1] === "/var/lib/chittyconnect/audit");
    const auditVolume = audit?.split(":")[0] ?? "";
    if (!audit || !isObject(doc.volumes) || !(auditVolume in doc.volumes)) {
      err("origin: the audit log directory must be a named volume so it survives restarts");
    }
    if (!mounts.some((volume) => /:\/etc\/chittyconnect\/policy\.yaml:ro$/.test(volume))) {
      err("origin: the policy file must be mounted read-only at /etc/chittyconnect/policy.yaml");
    }
    if (!isObject(origin.build)) err("origin: must be built from origin/Dockerfile");
  }

  const cloudflared = services.cloudflared;
  if (isObject(cloudflared)) {
    if ("container_name" in cloudflared) err("cloudflared: container_name prevents --scale cloudflared=3");
    const command = listOf(cloudflared.command).map(String);
    if (!command.includes("tunnel") || !command.includes("run"))
      err("cloudflared: command must be `tunnel ... run`");
    const env = isObject(cloudflared.environment) ? cloudflared.environment : {};
    if (typeof env.TUNNEL_TOKEN !== "string" || !env.TUNNEL_TOKEN.includes("${CLOUDFLARE_TUNNEL_TOKEN")) {
      err("cloudflared: TUNNEL_TOKEN must be interpolated from CLOUDFLARE_TUNNEL_TOKEN in .env");
    }
  }
  return result;
}

function checkService(
  name: string,
  service: Doc,
  oneShots: ReadonlySet<string>,
  result: SectionResult,
): void {
  const err = (message: string) => result.errors.push(`${name}: ${message}`);
  if (typeof service.image === "string") {
    if (!service.build && !isPinnedImage(service.image))
      err(`image ${service.image} is not pinned to an exact version`);
  } else if (!isObject(service.build)) {
    err("needs an image or a build");
  }
  if ("ports" in service) err("publishes ports; the stack is reached through the tunnel only");
  if (service.privileged === true) err("must not be privileged");
  if (!listOf(service.security_opt).includes("no-new-privileges:true"))
    err("security_opt must include no-new-privileges:true");
  const limits =
    isObject(service.deploy) && isObject(service.deploy.resources)
      ? service.deploy.resources.limits
      : undefined;
  if (!isObject(limits) || limits.memory === undefined || limits.cpus === undefined) {
    err("deploy.resources.limits must set cpus and memory");
  }
  if (service.network_mode === "host") err("must not use the host network");

  if (!isOneShot(service)) {
    if (service.restart !== "unless-stopped") err("restart must be unless-stopped");
    const health = service.healthcheck;
    if (!isObject(health) || health.disable === true || !Array.isArray(health.test))
      err("needs a healthcheck");
    if (service.read_only !== true)
      result.warnings.push(`${name}: root filesystem is writable (read_only: true?)`);
  }
  if (service.depends_on !== undefined) {
    if (!isObject(service.depends_on)) {
      err("depends_on must use the long form with a condition");
    } else {
      for (const [dependency, spec] of Object.entries(service.depends_on)) {
        const wanted = oneShots.has(dependency) ? "service_completed_successfully" : "service_healthy";
        if (!isObject(spec) || spec.condition !== wanted)
          err(`depends_on ${dependency} must have condition ${wanted}`);
      }
    }
  }
  const environment = isObject(service.environment) ? service.environment : {};
  if (Array.isArray(service.environment)) err("environment must be a map (so values can be checked)");
  for (const [key, value] of Object.entries(environment)) {
    if (!SECRET_NAME.test(key) || typeof value !== "string") continue;
    if (!/^\$\{[A-Z0-9_]+(:?[-?][^}]*)?\}$/.test(value) && !value.startsWith("/run/secrets/")) {
      err(`environment ${key} holds a literal value; secrets come from .env or compose secrets`);
    }
  }
}

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function networkNames(service: Doc): string[] {
  if (Array.isArray(service.networks)) return service.networks.map(String);
  return isObject(service.networks) ? Object.keys(service.networks) : [];
}

function secretName(secret: unknown): string | undefined {
  if (typeof secret === "string") return secret;
  return isObject(secret) && typeof secret.source === "string" ? secret.source : undefined;
}
