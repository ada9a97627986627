// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are compose's ${VAR} syntax, not templates
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  COMPOSE_METRICS_SUBNET,
  COMPOSE_TUNNEL_SUBNET,
  renderComposeNginxConfig,
} from "../../nginx/compose-config.ts";
import { checkCompose, isPinnedImage } from "../../scripts/deploy-checks/compose.ts";
import { interpolate, mergeCompose, parseComposeText } from "../../scripts/deploy-checks/compose-files.ts";

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
    // The store shares an internal network with the origins only, never nginx's `app` network.
    expect(valkey.networks).toEqual(["replay"]);
    expect(origin.networks).toContain("replay");
    expect(Object.keys(second.networks)).toContain("replay");
    expect(load().networks.replay.internal).toBe(true);
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

  it("puts nginx on the internal metrics network its /metrics listener admits, and nobody else", () => {
    const doc = load();
    expect(doc.networks.metrics.internal).toBe(true);
    expect(doc.networks.metrics.ipam.config[0].subnet).toBe(COMPOSE_METRICS_SUBNET);
    expect(read("nginx/nginx.conf")).toContain(`allow ${COMPOSE_METRICS_SUBNET};`);
    const members = Object.entries(doc.services as Record<string, Doc>)
      // A service lists its networks, or maps them to settings (origin-2's alias).
      .filter(([, service]) => {
        const networks = service.networks ?? [];
        return (Array.isArray(networks) ? networks : Object.keys(networks)).includes("metrics");
      })
      .map(([name]) => name);
    expect(members).toEqual(["nginx"]);
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

  it("lets cloudflared scale: no container name, the token as a file, metrics on loopback", () => {
    const { cloudflared } = load().services;
    expect(cloudflared.container_name).toBeUndefined();
    expect(cloudflared.environment.TUNNEL_TOKEN).toBeUndefined();
    expect(cloudflared.environment.TUNNEL_TOKEN_FILE).toBe("/run/secrets/cloudflare_tunnel_token");
    expect(cloudflared.secrets).toEqual(["cloudflare_tunnel_token"]);
    expect(cloudflared.command).toEqual(["tunnel", "--no-autoupdate", "--metrics", "127.0.0.1:2000", "run"]);
    expect(cloudflared.user).toBe("65532:65532");
  });

  it("gives the origin its secrets as files and only nginx's network as peers", () => {
    const { origin, nginx } = load().services;
    expect(origin.environment.OP_CONNECT_TOKEN).toBeUndefined();
    expect(origin.environment.OP_CONNECT_TOKEN_FILE).toBe("/run/secrets/op_connect_token");
    expect(origin.environment.ALLOWED_PEERS).toBe("172.30.54.0/24,127.0.0.1");
    expect(load().networks.app.ipam.config[0].subnet).toBe("172.30.54.0/24");
    expect(nginx.networks).toContain("app");
    expect(origin.user).toBe("1000:1000");
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
    [
      "Connect 1.8",
      (doc) => (doc.services["connect-api"].image = "1password/connect-api:1.8.0"),
      /1\.7\.<patch>/,
    ],
    [
      "Connect 1.70",
      (doc) => (doc.services["connect-sync"].image = "1password/connect-sync:1.70.1"),
      /1\.7\.<patch>/,
    ],
    [
      "Connect 1.7 without patch",
      (doc) => (doc.services["connect-api"].image = "1password/connect-api:1.7"),
      /1\.7\.<patch>/,
    ],
    [
      "Connect user unset",
      (doc) => delete doc.services["connect-api"].user,
      /connect-api: user must be "999:999"/,
    ],
    [
      "probe-tools copying in place",
      (doc) => (doc.services["probe-tools"].command = ["cp", "/bin/busybox", "/probe/busybox"]),
      /probe-tools: copy to a temporary name/,
    ],
    [
      "cloudflared metrics on every interface",
      (doc) => (doc.services.cloudflared.command[3] = "0.0.0.0:2000"),
      /cloudflared: metrics must listen on loopback only, got 0\.0\.0\.0:2000/,
    ],
    [
      "cloudflared metrics left to the image default",
      (doc) => {
        doc.services.cloudflared.command = ["tunnel", "--no-autoupdate", "run"];
        delete doc.services.cloudflared.environment.TUNNEL_METRICS;
      },
      /cloudflared: set --metrics 127\.0\.0\.1/,
    ],
    [
      "tunnel token in the environment",
      (doc) => (doc.services.cloudflared.environment.TUNNEL_TOKEN = "${CLOUDFLARE_TUNNEL_TOKEN}"),
      /cloudflared: the tunnel token must be a file/,
    ],
    [
      "tunnel token file not mounted",
      (doc) => (doc.services.cloudflared.secrets = []),
      /cloudflared: TUNNEL_TOKEN_FILE must name/,
    ],
    [
      "origin secret in the environment",
      (doc) => (doc.services.origin.environment.OP_CONNECT_TOKEN = "${OP_CONNECT_TOKEN}"),
      /origin: OP_CONNECT_TOKEN must come from a compose secret/,
    ],
    [
      "origin secret file not mounted",
      (doc) =>
        (doc.services.origin.secrets = [
          "op_connect_token",
          "edge_signing_key",
          "audit_hmac_key",
          "audit_chain_key",
        ]),
      /origin: EDGE_SIGNING_KEY_PREVIOUS_FILE must name a secret mounted/,
    ],
    [
      "secrets without a user",
      (doc) => delete doc.services.origin.user,
      /origin: mounts secrets, so it must set user/,
    ],
    [
      "no peer list",
      (doc) => delete doc.services.origin.environment.ALLOWED_PEERS,
      /origin: ALLOWED_PEERS must be set/,
    ],
    [
      "peers on the Connect side",
      (doc) => (doc.services.origin.environment.ALLOWED_PEERS = "172.30.54.0/24,10.0.0.0/8"),
      /origin: ALLOWED_PEERS: 10\.0\.0\.0\/8 is not the subnet of a network the origin shares with nginx/,
    ],
    [
      "another service on nginx's network",
      (doc) => doc.services["connect-api"].networks.push("app"),
      /origin: ALLOWED_PEERS admits connect-api/,
    ],
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
    // Its token is the origin's secret file, so the two always match.
    expect(dev.services["dev-connect"].secrets).toEqual(["op_connect_token"]);
    expect(dev.services["dev-connect"].command.join(" ")).toContain("$$(cat /run/secrets/op_connect_token)");
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

describe("docker-compose.tunnel-config.yml (locally-managed tunnel)", () => {
  const merged = mergeCompose(load(), parseComposeText(read("docker-compose.tunnel-config.yml"))) as Doc;

  it("passes every deploy check once merged over the base file", () => {
    const result = checkCompose(merged);
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
  });

  it("runs cloudflared from the mounted config and credentials instead of the token", () => {
    const { cloudflared } = merged.services;
    expect(cloudflared.command).toEqual([
      "tunnel",
      "--no-autoupdate",
      "--config",
      "/etc/cloudflared/config.yml",
      "run",
    ]);
    expect(cloudflared.environment).toEqual({ TUNNEL_METRICS: "127.0.0.1:2000" });
    expect(cloudflared.secrets).toEqual(["cloudflared_credentials"]);
    expect(cloudflared.volumes).toEqual(["./cloudflared/config.yml:/etc/cloudflared/config.yml:ro"]);
    expect(merged.secrets.cloudflare_tunnel_token).toBeUndefined();
    expect(merged.secrets.cloudflared_credentials.file).toBe(
      "${SECRETS_DIR:-./secrets}/cloudflared-credentials.json",
    );
  });

  it("points cloudflared/config.yml at the mounted credentials, nginx and loopback metrics", () => {
    const config = parse(read("cloudflared/config.yml")) as Doc;
    expect(config["credentials-file"]).toBe("/run/secrets/cloudflared_credentials");
    expect(config.metrics).toBe("127.0.0.1:2000");
    expect(config.ingress[0].service).toBe("http://nginx:8080");
    expect(config.ingress.at(-1)).toEqual({ service: "http_status:404" });
  });
});

describe("compose merge and interpolation", () => {
  it("merges maps, appends lists, replaces commands, honours !override and !reset", () => {
    const base = parseComposeText(
      "s:\n  a:\n    command: [x]\n    volumes: [v1]\n    environment: { A: '1', B: '2' }\n",
    );
    const over = parseComposeText(
      "s:\n  a:\n    command: [y]\n    volumes: [v2]\n    environment: { B: '3' }\n    secrets: !override [s2]\n  b: !reset null\n",
    );
    expect(mergeCompose(base, over)).toEqual({
      s: { a: { command: ["y"], volumes: ["v1", "v2"], environment: { A: "1", B: "3" }, secrets: ["s2"] } },
    });
    expect(
      mergeCompose(parseComposeText("e: { A: '1' }"), parseComposeText("e: !override { B: '2' }")),
    ).toEqual({
      e: { B: "2" },
    });
  });

  it("interpolates as compose does", () => {
    const env = { SET: "value", BLANK: "" };
    expect(interpolate("${SET}/${UNSET:-d}/${BLANK:-d}/${BLANK-d}/$${SET}", env)).toBe("value/d/d//${SET}");
    expect(interpolate("${SECRETS_DIR:-./secrets}/x", {})).toBe("./secrets/x");
    expect(() => interpolate("${NEED:?set NEED}", {})).toThrow("NEED: set NEED");
    expect(() => interpolate("${BLANK:?}", env)).toThrow("BLANK: is required");
    expect(interpolate("${BLANK?}", env)).toBe("");
  });
});
