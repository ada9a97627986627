import { isIPv4, isIPv6 } from "node:net";
import { parsePeer, SECRET_VARIABLES } from "../../origin/src/config.ts";
import { type Doc, isObject } from "./compose-files.ts";
import { type SectionResult, section } from "./report.ts";

/** The services the production stack must have, and the ones holding 1Password's data. */
export const REQUIRED_SERVICES = ["connect-api", "connect-sync", "origin", "nginx", "cloudflared"] as const;
const CONNECT_SERVICES = ["connect-api", "connect-sync"] as const;
/** The uid:gid 1Password's Connect images run as (their `opuser`). */
export const CONNECT_USER = "999:999";
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|KEY|SESSION|CREDENTIAL/i;

/** An image reference pinned to an exact version: a digest, or a tag with major.minor.patch. */
export function isPinnedImage(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const tag = /:([^/:]+)$/.exec(image)?.[1];
  return tag !== undefined && tag !== "latest" && /^v?\d+\.\d+\.\d+/.test(tag);
}

/** 1Password's Connect image at an exact 1.7 patch release (optionally with its digest). */
export function isConnect17(name: string, image: string): boolean {
  return new RegExp(`^1password/${name}:1\\.7\\.\\d+(@sha256:[0-9a-f]{64})?$`).test(image);
}

/** A service that runs once and exits; the rules for long-running services do not apply to it. */
function isOneShot(service: Doc): boolean {
  return service.restart === "no";
}

/** `user: "uid:gid"` with numbers, which is what a file's owner and group are compared with. */
export function serviceUser(service: unknown): { uid: number; gid: number } | undefined {
  const user = isObject(service) ? service.user : undefined;
  const match = typeof user === "string" ? /^(\d+):(\d+)$/.exec(user) : null;
  return match ? { uid: Number(match[1]), gid: Number(match[2]) } : undefined;
}

/** The secrets a service mounts, by their top-level name, with the path each appears at. */
export function mountedSecrets(service: unknown): Map<string, string> {
  const mounted = new Map<string, string>();
  for (const secret of listOf(isObject(service) ? service.secrets : undefined)) {
    const name = secretName(secret);
    if (name === undefined) continue;
    const target = isObject(secret) && typeof secret.target === "string" ? secret.target : name;
    mounted.set(name, target.startsWith("/") ? target : `/run/secrets/${target}`);
  }
  return mounted;
}

/** The path cloudflared reads its config from in a locally-managed setup (`--config`), if any. */
export function cloudflaredConfigPath(doc: unknown): string | undefined {
  const services = isObject(doc) && isObject(doc.services) ? doc.services : {};
  const command = listOf(isObject(services.cloudflared) ? services.cloudflared.command : undefined).map(
    String,
  );
  const index = command.indexOf("--config");
  return index >= 0 ? command[index + 1] : undefined;
}

/** The properties the production stack must keep, so none can silently regress. */
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
    if (!isConnect17(name, image)) err(`${name}: image must be 1password/${name}:1.7.<patch>, got ${image}`);
    if (service.user !== CONNECT_USER) {
      err(
        `${name}: user must be "${CONNECT_USER}" (the image's opuser, whom the credentials file is readable by)`,
      );
    }
    const attached = networkNames(service);
    if (!attached.some((network) => isObject(networks[network]) && networks[network].internal === true)) {
      err(`${name}: must be on an internal network`);
    }
    if (!mountedSecrets(service).has("op_credentials")) {
      err(`${name}: must receive the credentials file as the compose secret op_credentials`);
    }
  }
  const secrets = isObject(doc.secrets) ? doc.secrets : {};
  const credentials = secrets.op_credentials;
  if (!isObject(credentials) || typeof credentials.file !== "string") {
    err("secrets.op_credentials: must be a file secret (the 1password-credentials.json)");
  }

  const origin = services.origin;
  if (isObject(origin)) checkOrigin(origin, services, networks, result);
  const cloudflared = services.cloudflared;
  if (isObject(cloudflared)) checkCloudflared(cloudflared, result);
  const probe = services["probe-tools"];
  if (isObject(probe)) {
    const command = listOf(probe.command).map(String).join(" ");
    if (!/\bcp\s+\S+\s+(\S+)\s*&&\s*mv\s+(?:-f\s+)?(\S+)\s+\S+/.test(command)) {
      err(
        'probe-tools: copy to a temporary name, then mv it into place (a cp over a running busybox fails with "text file busy")',
      );
    }
  }
  return result;
}

function checkOrigin(origin: Doc, services: Doc, networks: Doc, result: SectionResult): void {
  const err = (message: string) => result.errors.push(`origin: ${message}`);
  const mounts = listOf(origin.volumes).filter((volume): volume is string => typeof volume === "string");
  const audit = mounts.find((volume) => volume.split(":")[1] === "/var/lib/chittyconnect/audit");
  if (!audit) err("the audit log directory must be a named volume so it survives restarts");
  if (!mounts.some((volume) => /:\/etc\/chittyconnect\/policy\.yaml:ro$/.test(volume))) {
    err("the policy file must be mounted read-only at /etc/chittyconnect/policy.yaml");
  }
  if (!isObject(origin.build)) err("must be built from origin/Dockerfile");

  const environment = isObject(origin.environment) ? origin.environment : {};
  const mounted = new Set(mountedSecrets(origin).values());
  for (const name of SECRET_VARIABLES) {
    if (name in environment)
      err(`${name} must come from a compose secret: ${name}_FILE: /run/secrets/<name>`);
    const file = environment[`${name}_FILE`];
    if (file !== undefined && !(typeof file === "string" && mounted.has(file))) {
      err(`${name}_FILE must name a secret mounted into the origin, got ${JSON.stringify(file)}`);
    }
  }

  // The origin accepts nginx's network and its own loopback (the health check), nothing else.
  const peers = typeof environment.ALLOWED_PEERS === "string" ? environment.ALLOWED_PEERS : "";
  const entries = peers
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.length === 0) {
    err("ALLOWED_PEERS must be set to nginx's network (and 127.0.0.1 for the health check)");
    return;
  }
  const nginx = services.nginx;
  const shared = networkNames(origin).filter(
    (network) => isObject(nginx) && networkNames(nginx).includes(network),
  );
  for (const entry of entries) {
    const range = parsePeer(entry);
    if (range === undefined) {
      err(`ALLOWED_PEERS: ${JSON.stringify(entry)} is not an IP or CIDR`);
      continue;
    }
    if (isLoopback(range.address)) continue;
    const network = shared.find((name) => subnetsOf(networks[name]).includes(entry));
    if (network === undefined) {
      err(`ALLOWED_PEERS: ${entry} is not the subnet of a network the origin shares with nginx`);
      continue;
    }
    for (const [name, service] of Object.entries(services)) {
      // The origin and its replicas (origin-2, … in the `replicas` profile) are what nginx should reach.
      if (name !== "nginx" && !/^origin(-\d+)?$/.test(name) && networkNames(service).includes(network)) {
        err(`ALLOWED_PEERS admits ${name}: it is on the ${network} network with nginx`);
      }
    }
  }
}

function checkCloudflared(cloudflared: Doc, result: SectionResult): void {
  const err = (message: string) => result.errors.push(`cloudflared: ${message}`);
  if ("container_name" in cloudflared) err("container_name prevents --scale cloudflared=3");
  const command = listOf(cloudflared.command).map(String);
  if (!command.includes("tunnel") || !command.includes("run")) err("command must be `tunnel ... run`");
  const env = isObject(cloudflared.environment) ? cloudflared.environment : {};

  // The image defaults to 0.0.0.0:2000, where pprof would be open to every peer on the network.
  const flag = command.indexOf("--metrics");
  const addresses = [flag >= 0 ? command[flag + 1] : undefined, env.TUNNEL_METRICS].filter(
    (value): value is string => typeof value === "string",
  );
  if (addresses.length === 0) err("set --metrics 127.0.0.1:<port> (the image's default listens on 0.0.0.0)");
  for (const address of addresses) {
    if (!isLoopbackHostPort(address)) err(`metrics must listen on loopback only, got ${address}`);
  }

  const secrets = new Set(mountedSecrets(cloudflared).values());
  if ("TUNNEL_TOKEN" in env) {
    err("the tunnel token must be a file: TUNNEL_TOKEN_FILE: /run/secrets/<name>, not TUNNEL_TOKEN");
  }
  if (command.includes("--config")) {
    const path = cloudflaredConfigPath({ services: { cloudflared } });
    const mountsConfig = listOf(cloudflared.volumes).some(
      (volume) => typeof volume === "string" && volume.split(":")[1] === path,
    );
    if (!mountsConfig) err(`--config ${path} is not mounted from the host`);
    if (secrets.size === 0) err("a locally-managed tunnel needs its credentials file as a compose secret");
  } else {
    const file = env.TUNNEL_TOKEN_FILE;
    if (!(typeof file === "string" && secrets.has(file))) {
      err(
        "TUNNEL_TOKEN_FILE must name the tunnel token's compose secret, e.g. /run/secrets/cloudflare_tunnel_token",
      );
    }
  }
}

function isLoopback(address: string): boolean {
  return (isIPv4(address) && address.startsWith("127.")) || (isIPv6(address) && address === "::1");
}

/** host:port on loopback (127.0.0.0/8, ::1 or localhost). */
export function isLoopbackHostPort(value: string): boolean {
  const host = /^(?:\[([^\]]+)\]|([^:]+)):\d{1,5}$/.exec(value);
  const name = host?.[1] ?? host?.[2] ?? "";
  return name === "localhost" || isLoopback(name);
}

function subnetsOf(network: unknown): string[] {
  const ipam = isObject(network) && isObject(network.ipam) ? network.ipam : {};
  return listOf(ipam.config)
    .map((config) => (isObject(config) ? config.subnet : undefined))
    .filter((subnet): subnet is string => typeof subnet === "string");
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
  if (mountedSecrets(service).size > 0 && serviceUser(service) === undefined) {
    err(
      'mounts secrets, so it must set user: "<uid>:<gid>" (numbers) for the files\' owner and group to match',
    );
  }

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

function networkNames(service: unknown): string[] {
  if (!isObject(service)) return [];
  if (Array.isArray(service.networks)) return service.networks.map(String);
  return isObject(service.networks) ? Object.keys(service.networks) : [];
}

function secretName(secret: unknown): string | undefined {
  if (typeof secret === "string") return secret;
  return isObject(secret) && typeof secret.source === "string" ? secret.source : undefined;
}
