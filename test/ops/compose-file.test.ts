import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { COMPOSE_TUNNEL_SUBNET, renderComposeNginxConfig } from "../../nginx/compose-config.ts";
import { checkCompose, isPinnedImage, parseComposeText } from "../../scripts/deploy-checks/compose.ts";

// biome-ignore lint/suspicious/noExplicitAny: the tests reach into parsed YAML, whose shape they assert
type Doc = Record<string, any>;

const read = (name: string) => readFileSync(new URL(`../../${name}`, import.meta.url), "utf8");
const load = (): Doc => parseComposeText(read("docker-compose.yml")) as Doc;

describe("docker-compose.yml", () => {
  it("passes every deploy check", () => {
    const result = checkCompose(load());
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
  });

  it("pins 1Password's Connect images to 1.7.x and publishes no port anywhere", () => {
    const { services } = load();
    expect(services["connect-api"].image).toMatch(/^1password\/connect-api:1\.7\.\d+$/);
    expect(services["connect-sync"].image).toMatch(/^1password\/connect-sync:1\.7\.\d+$/);
    for (const service of Object.values(services) as Doc[]) expect(service.ports).toBeUndefined();
  });

  it("runs a second origin replica and Valkey in the replicas profile, each replica with its own audit volume", () => {
    const { services, volumes } = load();
    const [origin, second, valkey] = [services.origin, services["origin-2"], services.valkey];
    expect(second.profiles).toEqual(["replicas"]);
    expect(valkey.profiles).toEqual(["replicas"]);
    expect(origin.profiles).toBeUndefined();
    // Same build and settings, so the replicas cannot drift apart.
    expect(second.build).toEqual(origin.build);
    expect(second.environment).toEqual(origin.environment);
    expect(origin.environment.REDIS_URL).toMatch(/^\$\{REDIS_URL:-\}$/);
    const auditVolume = (service: Doc) =>
      (service.volumes as string[])
        .find((volume) => volume.endsWith(":/var/lib/chittyconnect/audit"))
        ?.split(":")[0];
    expect(auditVolume(origin)).toBe("audit");
    expect(auditVolume(second)).toBe("audit-2");
    expect(Object.keys(volumes)).toEqual(expect.arrayContaining(["audit", "audit-2", "nonces"]));
    // nginx resolves `origin`; the second replica answers to that name too.
    expect(second.networks.app.aliases).toEqual(["origin"]);
    expect(origin.depends_on.valkey).toEqual({ condition: "service_healthy", required: false });
    expect(valkey.networks).toEqual(["app"]);
  });

  it("keeps Connect on an internal network the tunnel cannot reach", () => {
    const doc = load();
    expect(doc.networks.connect.internal).toBe(true);
    expect(doc.networks.app.internal).toBe(true);
    expect(doc.services["connect-api"].networks).toContain("connect");
    expect(doc.services.cloudflared.networks).toEqual(["tunnel"]);
    expect(doc.services.nginx.networks).not.toContain("connect");
  });

  it("trusts CF-Connecting-IP only from the tunnel network nginx is rendered for", () => {
    const doc = load();
    expect(doc.networks.tunnel.ipam.config[0].subnet).toBe(COMPOSE_TUNNEL_SUBNET);
    expect(read("nginx/nginx.conf")).toContain(`set_real_ip_from ${COMPOSE_TUNNEL_SUBNET};`);
  });

  it("ships the nginx.conf that nginx/render.ts renders (run node nginx/write-compose-config.ts after changing it)", () => {
    expect(read("nginx/nginx.conf")).toBe(renderComposeNginxConfig());
  });

  it("hands the Connect credentials over as a compose secret, never as environment", () => {
    const doc = load();
    expect(doc.secrets.op_credentials.file).toContain("1password-credentials.json");
    for (const name of ["connect-api", "connect-sync"]) {
      expect(doc.services[name].secrets).toContain("op_credentials");
      expect(doc.services[name].environment.OP_SESSION).toBe("/run/secrets/op_credentials");
    }
  });

  it("keeps the audit log on a named volume and the policy read-only", () => {
    const doc = load();
    expect(doc.services.origin.volumes).toContain("audit:/var/lib/chittyconnect/audit");
    expect(doc.volumes).toHaveProperty("audit");
  });

  it("lets cloudflared scale: no container name, token from .env", () => {
    const { cloudflared } = load().services;
    expect(cloudflared.container_name).toBeUndefined();
    expect(cloudflared.environment.TUNNEL_TOKEN).toMatch(/^\$\{CLOUDFLARE_TUNNEL_TOKEN:\?/);
  });

  // Each mutation is one way the file could regress; the check must name it.
  const regressions: [string, (doc: Doc) => void, RegExp][] = [
    [
      "latest tag",
      (doc) => (doc.services["connect-api"].image = "1password/connect-api:latest"),
      /connect-api: image/,
    ],
    [
      "unpinned tag",
      (doc) => (doc.services.nginx.image = "nginx:1-alpine"),
      /nginx: image nginx:1-alpine is not pinned/,
    ],
    [
      "published Connect port",
      (doc) => (doc.services["connect-sync"].ports = ["8081:8080"]),
      /connect-sync: publishes/,
    ],
    ["missing healthcheck", (doc) => delete doc.services.origin.healthcheck, /origin: needs a healthcheck/],
    [
      "disabled healthcheck",
      (doc) => (doc.services.nginx.healthcheck = { disable: true }),
      /nginx: needs a healthcheck/,
    ],
    ["restart policy", (doc) => (doc.services.cloudflared.restart = "always"), /cloudflared: restart/],
    ["no-new-privileges", (doc) => (doc.services.origin.security_opt = []), /origin: security_opt/],
    ["resource limits", (doc) => delete doc.services.nginx.deploy, /nginx: deploy.resources.limits/],
    [
      "short depends_on",
      (doc) => (doc.services.nginx.depends_on = ["origin"]),
      /nginx: depends_on must use the long form/,
    ],
    [
      "started instead of healthy",
      (doc) => (doc.services.origin.depends_on["connect-api"].condition = "service_started"),
      /origin: depends_on connect-api must have condition service_healthy/,
    ],
    [
      "literal secret in environment",
      (doc) => (doc.services.origin.environment.EDGE_SIGNING_KEY = "a-literal-key-in-the-compose-file"),
      /origin: environment EDGE_SIGNING_KEY holds a literal value/,
    ],
    [
      "credentials in environment",
      (doc) => (doc.services["connect-api"].environment.OP_SESSION = "eyJ2ZXJpZmllciI6e319"),
      /connect-api: environment OP_SESSION holds a literal value/,
    ],
    [
      "external Connect network",
      (doc) => (doc.networks.connect.internal = false),
      /connect-api: must be on an internal/,
    ],
    ["secret removed", (doc) => delete doc.secrets, /secrets.op_credentials/],
    ["unscalable tunnel", (doc) => (doc.services.cloudflared.container_name = "tunnel"), /--scale/],
    ["audit on the container layer", (doc) => (doc.services.origin.volumes = []), /audit log directory/],
  ];
  it.each(regressions)("names the regression: %s", (_, mutate, expected) => {
    const doc = load();
    mutate(doc);
    const { errors } = checkCompose(doc);
    expect(
      errors.some((error) => expected.test(error)),
      errors.join("\n"),
    ).toBe(true);
  });

  it("recognises pinned and unpinned image references", () => {
    expect(isPinnedImage("node:22.23.3-bookworm-slim")).toBe(true);
    expect(isPinnedImage(`nginx@sha256:${"a".repeat(64)}`)).toBe(true);
    expect(isPinnedImage("registry.example.com:5000/team/app:1.2.3")).toBe(true);
    for (const image of [
      "node",
      "node:latest",
      "node:22",
      "node:22-slim",
      "registry:5000/app",
      "busybox:musl",
    ]) {
      expect(isPinnedImage(image), image).toBe(false);
    }
  });
});

describe("docker-compose.dev.yml", () => {
  // compose's merge tags; the override's meaning is what matters here, not the merge mechanics.
  const tags = ["!override", "!reset"].flatMap((tag) =>
    (["map", "seq"] as const).map((collection) => ({ tag, collection, resolve: (value: unknown) => value })),
  );
  const dev = parse(read("docker-compose.dev.yml"), { customTags: tags }) as Doc;

  it("replaces 1Password's images with the dev Connect server built from dev/Dockerfile", () => {
    expect(dev.services["connect-api"].profiles).toEqual(["onepassword"]);
    expect(dev.services["connect-sync"].profiles).toEqual(["onepassword"]);
    expect(dev.services["dev-connect"].build.dockerfile).toBe("dev/Dockerfile");
    expect(dev.services["dev-connect"].healthcheck.test).toContain("node");
    expect(dev.services.origin.environment.OP_CONNECT_HOST).toBe("http://dev-connect:8080");
    expect(dev.services.origin.depends_on).toEqual({ "dev-connect": { condition: "service_healthy" } });
    expect(dev.services.origin.volumes).toContain(
      "./origin/fixtures/policy.yaml:/etc/chittyconnect/policy.yaml:ro",
    );
    expect(dev.services.cloudflared.profiles).toEqual(["tunnel"]);
  });

  it("publishes nginx on loopback only", () => {
    for (const port of dev.services.nginx.ports as string[]) expect(port).toMatch(/^127\.0\.0\.1:/);
  });
});
