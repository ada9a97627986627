import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningConnectServer, startConnectServer } from "../../../dev/src/connect/server.ts";
import { closedPortUrl } from "../credentials/connect-harness.ts";
import { signedFetch, signingKey } from "../helpers/signed-fetch.ts";
import { type Fault, type FaultyConnect, startFaultyConnect } from "./fault-connect.ts";

/**
 * Everything the origin process writes while 1Password Connect times out, refuses and fails,
 * during the boot warm-up, provision and rotate, must be free of every secret it holds.
 */
const CONNECT_TOKEN = "connect-token-never-logged-4b1d0c9e7a";
const SIGNING_KEY = "edge-signing-key-never-logged-0123456789abcdef";
const AUDIT_KEY = "audit-hmac-key-never-logged-0123456789abcdef";
const CHAIN_KEY = "audit-chain-key-never-logged-0123456789abcd";
const OWNER = "01-C-TEST-0001-P-2501-A-X";
const PATH = "services/chittyid/service_token";
const FIXTURE = fileURLToPath(new URL("../../../dev/fixtures/vault.json", import.meta.url));
const SPAWN_TEST_TIMEOUT_MS = 120_000;
const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

/** Every concealed value of the dev fixture: any of them in a log line is a leaked credential. */
function fixtureSecrets(): string[] {
  const fixture = JSON.parse(readFileSync(FIXTURE, "utf8")) as {
    vaults: { items: { fields?: { type?: string; value?: string }[] }[] }[];
  };
  return fixture.vaults
    .flatMap((vault) => vault.items.flatMap((item) => item.fields ?? []))
    .filter((field) => field.type === "CONCEALED" && (field.value ?? "").length >= 8)
    .map((field) => field.value as string);
}

interface OriginProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  waitFor(text: string): Promise<void>;
  stop(): Promise<void>;
}

async function spawnOrigin(connectHost: string, dir: string): Promise<OriginProcess> {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      OP_CONNECT_HOST: connectHost,
      OP_CONNECT_TOKEN: CONNECT_TOKEN,
      EDGE_SIGNING_KEY: SIGNING_KEY,
      AUDIT_HMAC_KEY: AUDIT_KEY,
      AUDIT_CHAIN_KEY: CHAIN_KEY,
      AUDIT_LOG_FILE: join(dir, `audit-${Math.random().toString(36).slice(2)}.log`),
      POLICY_FILE: join(dir, "policy.yaml"),
      CONNECT_TIMEOUT_MS: "400",
      // Requests follow the warm-up within milliseconds; the start-up grace (tested in
      // http/signature.test.ts) would answer them 503 origin_starting.
      CLOCK_SKEW_MS: "0",
      TITLE_CACHE_TTL_SECONDS: "0",
      LOG_LEVEL: "trace",
      HOST: "127.0.0.1",
      PORT: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const waitFor = async (text: string) => {
    // Generous: a spawned Node process on a loaded CI machine can take many seconds to start.
    const deadline = Date.now() + 60_000;
    while (!output.includes(text)) {
      if (Date.now() > deadline) throw new Error(`origin never logged "${text}":\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await waitFor("origin listening");
  const listening = output.split("\n").find((line) => line.includes("origin listening")) ?? "{}";
  const { url } = JSON.parse(listening) as { url: string };
  return {
    url,
    child,
    output: () => output,
    waitFor,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

let dir: string;
let connect: RunningConnectServer;
let faulty: FaultyConnect;
const outputs: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "origin-no-secrets-"));
  writeFileSync(
    join(dir, "policy.yaml"),
    `version: 1\nrules:\n  - owners: ["*"]\n    services: ["*"]\n    actions: [provision, rotate]\n    paths: ["services/**"]\n    purposes: ["*"]\n`,
  );
  connect = await startConnectServer({ port: 0, token: CONNECT_TOKEN });
  faulty = await startFaultyConnect(connect.url);
});

afterAll(async () => {
  await faulty?.close();
  await connect?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(origin: OriginProcess, action: "provision" | "rotate"): Promise<number> {
  const key = await signingKey(SIGNING_KEY);
  const response = await signedFetch(`${origin.url}/v1/credentials/${action}`, {
    key,
    owner: OWNER,
    body: { service: "chittyid", credentialPath: PATH, purpose: "fault test" },
  });
  const text = await response.text();
  // The answer to the caller is held to the same rule as the log.
  for (const secret of [CONNECT_TOKEN, SIGNING_KEY, AUDIT_KEY, CHAIN_KEY]) expect(text).not.toContain(secret);
  return response.status;
}

const FAULT_STATUS: Record<Exclude<Fault, "pass">, number> = { hang: 504, reset: 503, error500: 502 };

describe("no secret in any line the origin writes, under Connect faults", () => {
  for (const fault of ["hang", "reset", "error500"] as const) {
    it(
      `Connect ${fault}: warm-up, provision and the rotation's write all fail without leaking`,
      async () => {
        faulty.fault = () => fault;
        const origin = await spawnOrigin(faulty.url, dir);
        try {
          await origin.waitFor("Connect warm-up failed");
          expect(await call(origin, "provision")).toBe(FAULT_STATUS[fault]);
          expect(await call(origin, "rotate")).toBe(FAULT_STATUS[fault]);
          // The rotation's PUT carries the whole item (every other field's value) and the token.
          faulty.fault = (method) => (method === "PUT" ? fault : "pass");
          expect(await call(origin, "provision")).toBe(200);
          expect(await call(origin, "rotate")).toBe(FAULT_STATUS[fault]);
        } finally {
          await origin.stop();
          outputs.push(origin.output());
        }
      },
      SPAWN_TEST_TIMEOUT_MS,
    );
  }

  it(
    "Connect refusing connections: warm-up, provision and rotate fail without leaking",
    async () => {
      const origin = await spawnOrigin(await closedPortUrl(), dir);
      try {
        await origin.waitFor("Connect warm-up failed");
        expect(await call(origin, "provision")).toBe(503);
        expect(await call(origin, "rotate")).toBe(503);
      } finally {
        await origin.stop();
        outputs.push(origin.output());
      }
    },
    SPAWN_TEST_TIMEOUT_MS,
  );

  it("the captured output names the failures and carries none of the secrets", () => {
    const text = outputs.join("\n");
    // Not vacuous: the failures were logged, with the fields an operator needs.
    for (const kind of ["timeout", "unavailable", "error"]) expect(text).toContain(`"kind":"${kind}"`);
    expect(text).toContain('"operation":"update_item"');
    const secrets = [
      CONNECT_TOKEN,
      SIGNING_KEY,
      AUDIT_KEY,
      CHAIN_KEY,
      `Bearer ${CONNECT_TOKEN}`,
      ...fixtureSecrets(),
    ];
    const leaks = text
      .split("\n")
      .filter((line) => secrets.some((secret) => line.includes(secret)))
      .map((line) => line.slice(0, 300));
    expect(leaks).toEqual([]);
  });
});
