#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { type ChittyClient, createClient } from "../client.ts";
import { ChittyProblemError } from "../problem.ts";
import {
  ConfigError,
  configPath,
  readConfig,
  removeConfig,
  resolveConnection,
  writeConfig,
} from "./config.ts";
import { parseEnvFile } from "./env-file.ts";
import { MAX_TEMPLATE_BYTES, renderTemplate, templateReferences, writeRendered } from "./inject.ts";
import { EXIT, errorLine, exitCodeFor, styleFor, UsageError, withProgress } from "./output.ts";
import { credentialPath, isReference, parseReference } from "./references.ts";
import { resolveReferences } from "./resolve.ts";
import { runMasked, WITHHELD } from "./run.ts";

const env = process.env;
const style = styleFor(process.stdout, env);

interface GlobalOptions {
  url?: string;
  token?: string;
  timeout: number;
  retries: number;
}

const integer = (min: number, max: number) => (text: string) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`an integer from ${min} to ${max}`);
  }
  return value;
};

const program = new Command("chittyconnect")
  .description(
    "ChittyConnect from the command line: credentials sealed to a one-use key and opened here, secrets " +
      "into a process's environment without touching disk.",
  )
  .addOption(new Option("--url <url>", "the edge (else CHITTYCONNECT_URL, else the login config)"))
  .addOption(
    new Option(
      "--token <token>",
      "bearer token (else CHITTYCONNECT_TOKEN, else the login config); argv is visible to other users, prefer the variable",
    ),
  )
  .addOption(
    new Option("--timeout <ms>", "each attempt's time limit")
      .default(30_000)
      .argParser(integer(100, 600_000)),
  )
  .addOption(
    new Option("--retries <n>", "retries of a safe request on 502/503/504")
      .default(2)
      .argParser(integer(0, 10)),
  )
  .showHelpAfterError("(add --help for usage)")
  .addHelpText(
    "after",
    `
Exit codes: 0 ok, 1 usage, 2 config, 3 denied (401/403), 4 not found, 5 edge/origin/Connect unavailable,
6 rate limited, 7 other refusal (4xx), 8 failure (5xx); run exits with its command's code.`,
  );

function globals(): GlobalOptions {
  return program.opts<GlobalOptions>();
}

function connection(): { url: string; token: string | undefined } {
  const options = globals();
  const { url, token } = resolveConnection({ url: options.url, token: options.token }, env, () =>
    readConfig(configPath(env)),
  );
  if (!url)
    throw new ConfigError("no edge URL: pass --url, set CHITTYCONNECT_URL, or run chittyconnect login");
  return { url, token };
}

function client(token: string | undefined): ChittyClient {
  const { url } = connection();
  return createClient({
    baseUrl: url,
    timeoutMs: globals().timeout,
    retries: globals().retries,
    ...(token ? { token } : {}),
  });
}

function userClient(): ChittyClient {
  const { token } = connection();
  if (!token) {
    throw new ConfigError("no token: set CHITTYCONNECT_TOKEN, pass --token, or run chittyconnect login");
  }
  return client(token);
}

function adminClient(flag: string | undefined): ChittyClient {
  const token = flag ?? (env.CHITTYCONNECT_ADMIN_TOKEN || undefined);
  if (!token) throw new ConfigError("no admin token: set CHITTYCONNECT_ADMIN_TOKEN or pass --admin-token");
  return client(token);
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** The value alone: a newline only for a person at a terminal, so `> file` and `$(…)` get the exact bytes. */
function printValue(value: string): void {
  process.stdout.write(process.stdout.isTTY ? `${value}\n` : value);
}

function table(rows: string[][]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length))) ?? [];
  return rows
    .map((row, i) => {
      const line = row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join("  ")
        .trimEnd();
      return i === 0 ? style.bold(line) : line;
    })
    .join("\n");
}

function pathArgument(text: string): string {
  return isReference(text) ? credentialPath(parseReference(text)) : text;
}

const credentialOptions = (command: Command, verb: string) =>
  command
    .requiredOption("--service <service>", "the service the value is for (the token must be bound to it)")
    .requiredOption("--purpose <purpose>", "why, recorded in the audit log")
    .option("--no-seal", "let the edge carry the value in the clear (default: sealed to a one-use key)")
    .option("--json", `the value with its lease as JSON`)
    .addHelpText(
      "after",
      `\n<path> is vault/item/field by title, or a chittyconnect:// reference. The ${verb} value is printed alone.`,
    );

credentialOptions(
  program
    .command("provision")
    .argument("<path>", "vault/item/field")
    .description("Print a credential's value"),
  "",
).action(
  async (path: string, options: { service: string; purpose: string; seal: boolean; json?: boolean }) => {
    const credential = await withProgress(
      "provisioning",
      userClient().credentials.provision({
        service: options.service,
        credentialPath: pathArgument(path),
        purpose: options.purpose,
        seal: options.seal,
      }),
    );
    if (options.json) printJson(credential);
    else printValue(credential.value);
  },
);

credentialOptions(
  program
    .command("rotate")
    .argument("<path>", "vault/item/field")
    .description("Have 1Password generate a new value, and print it")
    .option(
      "--idempotency-key <key>",
      "name the rotation, to repeat it safely later (default: one per call)",
    ),
  "new",
).action(
  async (
    path: string,
    options: { service: string; purpose: string; seal: boolean; json?: boolean; idempotencyKey?: string },
  ) => {
    const credential = await withProgress(
      "rotating",
      userClient().credentials.rotate({
        service: options.service,
        credentialPath: pathArgument(path),
        purpose: options.purpose,
        seal: options.seal,
        ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
      }),
    );
    if (options.json) printJson(credential);
    else printValue(credential.value);
  },
);

program
  .command("run")
  .description("Run a command with chittyconnect:// references resolved into its environment only")
  .argument("<command...>", "the command and its arguments (after --)")
  .option(
    "--env-file <file>",
    "NAME=value lines; references among them are resolved (repeatable)",
    collect,
    [],
  )
  .option("--service <service>", "for references without ?service= (else CHITTYCONNECT_SERVICE)")
  .option("--purpose <purpose>", "for references without ?purpose=", "chittyconnect run")
  .option("--no-seal", "let the edge carry values in the clear")
  .option("--no-masking", "pass the command's output through unmasked")
  .addHelpText(
    "after",
    `
References: chittyconnect://<vault>/<item>/<field>[?service=<s>&purpose=<p>], percent-encoded
(%20 for a space). Every variable of the env files and of the current environment whose whole value is a
reference is resolved; the command's stdout and stderr show <concealed by chittyconnect> for each value.
Nothing is written to disk. CHITTYCONNECT_TOKEN and CHITTYCONNECT_ADMIN_TOKEN are not passed on.

  chittyconnect run --env-file refs.env -- node -e 'console.log(process.env.X.length)'`,
  )
  .action(
    async (
      argv: string[],
      options: { envFile: string[]; service?: string; purpose: string; seal: boolean; masking: boolean },
    ) => {
      const [command, ...args] = argv;
      if (!command) throw new UsageError("no command to run (chittyconnect run -- <command>)");
      const childEnv: NodeJS.ProcessEnv = { ...env };
      for (const name of WITHHELD) delete childEnv[name];
      for (const file of options.envFile) {
        for (const [name, value] of parseEnvFile(readText(file, "env file"))) childEnv[name] = value;
      }
      const referenced = Object.entries(childEnv).filter(
        (entry): entry is [string, string] => typeof entry[1] === "string" && isReference(entry[1]),
      );
      const resolved = await withProgress(
        `resolving ${referenced.length} reference${referenced.length === 1 ? "" : "s"}`,
        resolveReferences(
          userClient(),
          referenced.map(([, text]) => text),
          {
            service: options.service ?? (env.CHITTYCONNECT_SERVICE || undefined),
            purpose: options.purpose,
            seal: options.seal,
          },
        ),
      );
      for (const [name, text] of referenced) childEnv[name] = resolved.get(text);
      process.exitCode = await runMasked(command, args, childEnv, options.masking ? resolved.values() : []);
    },
  );

program
  .command("inject")
  .description("Fill {{ chittyconnect://… }} in a template and write the result 0600")
  .requiredOption("-i, --in-file <template>", "the template (- for stdin)")
  .option("-o, --out-file <file>", "where to write (- or omitted: stdout)", "-")
  .option("-f, --force", "replace an existing file that others may read")
  .option("--service <service>", "for references without ?service= (else CHITTYCONNECT_SERVICE)")
  .option("--purpose <purpose>", "for references without ?purpose=", "chittyconnect inject")
  .option("--no-seal", "let the edge carry values in the clear")
  .action(
    async (options: {
      inFile: string;
      outFile: string;
      force?: boolean;
      service?: string;
      purpose: string;
      seal: boolean;
    }) => {
      const template = readText(options.inFile, "template");
      if (Buffer.byteLength(template) > MAX_TEMPLATE_BYTES) {
        throw new UsageError(`the template is larger than ${MAX_TEMPLATE_BYTES} bytes`);
      }
      const values = await withProgress(
        "resolving references",
        resolveReferences(userClient(), templateReferences(template), {
          service: options.service ?? (env.CHITTYCONNECT_SERVICE || undefined),
          purpose: options.purpose,
          seal: options.seal,
        }),
      );
      const rendered = renderTemplate(template, values);
      if (options.outFile === "-") process.stdout.write(rendered);
      else writeRendered(options.outFile, rendered, options.force === true);
    },
  );

program
  .command("audit")
  .description("Your credential audit entries, newest first")
  .option("--limit <n>", "entries per page", integer(1, 500), 20)
  .option("--before <seq>", "entries before this sequence number", integer(1, Number.MAX_SAFE_INTEGER))
  .option("--json", "the page as JSON (with --follow: one entry per line)")
  .option("--follow", "keep polling and print new entries as they arrive (Ctrl-C stops)")
  .option("--interval <seconds>", "seconds between polls with --follow", integer(1, 3600), 5)
  .action(
    async (options: {
      limit: number;
      before?: number;
      json?: boolean;
      follow?: boolean;
      interval: number;
    }) => {
      const edge = userClient();
      const page = await withProgress(
        "reading the audit log",
        edge.credentials.audit({
          limit: options.limit,
          ...(options.before ? { before: options.before } : {}),
        }),
      );
      type Entry = (typeof page.entries)[number];
      const row = (e: Entry) => [
        String(e.seq),
        e.at,
        e.action,
        outcome(e.outcome),
        e.service,
        e.credentialPath,
        e.purpose,
      ];
      const header = ["SEQ", "AT", "ACTION", "OUTCOME", "SERVICE", "PATH", "PURPOSE"];
      if (!options.follow) {
        if (options.json) printJson(page);
        else process.stdout.write(`${table([header, ...page.entries.map(row)])}\n`);
        return;
      }
      // Oldest first from here on, as a log reads.
      const print = (entries: Entry[]) => {
        for (const e of [...entries].reverse()) {
          process.stdout.write(options.json ? `${JSON.stringify(e)}\n` : `${row(e).join("  ")}\n`);
        }
      };
      if (!options.json) process.stdout.write(`${style.bold(header.join("  "))}\n`);
      print(page.entries);
      let last = page.entries[0]?.seq ?? 0;
      for (;;) {
        await new Promise((r) => setTimeout(r, options.interval * 1000));
        const fresh = (await edge.credentials.audit({ limit: 100 })).entries.filter((e) => e.seq > last);
        print(fresh);
        last = fresh[0]?.seq ?? last;
      }
    },
  );

function outcome(text: string): string {
  return text === "allowed" ? style.green(text) : style.red(text);
}

const tokens = program.command("tokens").description("Mint, list and revoke API tokens (admin token)");
const adminOption = () =>
  new Option(
    "--admin-token <token>",
    "the admin token (else CHITTYCONNECT_ADMIN_TOKEN; prefer the variable)",
  );

tokens
  .command("mint")
  .description("Mint a token; it is printed once, alone (or with its details as --json)")
  .addOption(adminOption())
  .requiredOption("--owner <chittyid>", "the owner the token acts for")
  .requiredOption("--scopes <list>", "comma-separated, e.g. credentials:provision,usage:read", list)
  .option("--services <list>", "comma-separated services for credentials:* scopes (* for all)", list)
  .option("--label <label>", "a note shown in listings")
  .option("--expires-in <seconds>", "lifetime in seconds", integer(60, 31_536_000))
  .option("--allow-long-lived", "allow a lifetime above the edge's TOKEN_MAX_LIFETIME_SECONDS")
  .option("--json", "the token with its details as JSON")
  .action(
    async (options: {
      adminToken?: string;
      owner: string;
      scopes: string[];
      services?: string[];
      label?: string;
      expiresIn?: number;
      allowLongLived?: boolean;
      json?: boolean;
    }) => {
      const minted = await withProgress(
        "minting",
        adminClient(options.adminToken).tokens.mint({
          owner: options.owner,
          scopes: options.scopes as Parameters<ChittyClient["tokens"]["mint"]>[0]["scopes"],
          ...(options.services ? { services: options.services } : {}),
          ...(options.label ? { label: options.label } : {}),
          ...(options.expiresIn ? { expiresInSeconds: options.expiresIn } : {}),
          ...(options.allowLongLived ? { allowLongLived: true } : {}),
        }),
      );
      if (options.json) printJson(minted);
      else printValue(minted.token);
    },
  );

tokens
  .command("list")
  .description("List tokens, oldest first (never a token itself)")
  .addOption(adminOption())
  .option("--owner <chittyid>", "only this owner's")
  .option("--limit <n>", "tokens per page", integer(1, 100), 50)
  .option("--cursor <cursor>", "the nextCursor of the previous page")
  .option("--json", "the page as JSON")
  .action(
    async (options: {
      adminToken?: string;
      owner?: string;
      limit: number;
      cursor?: string;
      json?: boolean;
    }) => {
      const page = await withProgress(
        "listing tokens",
        adminClient(options.adminToken).tokens.list({
          limit: options.limit,
          ...(options.owner ? { owner: options.owner } : {}),
          ...(options.cursor ? { cursor: options.cursor } : {}),
        }),
      );
      if (options.json) return printJson(page);
      const rows = page.tokens.map((t) => [
        t.id,
        t.owner,
        t.scopes.join(","),
        t.services?.join(",") ?? "-",
        t.expiresAt ?? "never",
        t.revokedAt ? style.red("revoked") : "active",
        t.label ?? "",
      ]);
      process.stdout.write(
        `${table([["ID", "OWNER", "SCOPES", "SERVICES", "EXPIRES", "STATE", "LABEL"], ...rows])}\n`,
      );
      if (page.nextCursor) process.stderr.write(`more: --cursor ${page.nextCursor}\n`);
    },
  );

tokens
  .command("revoke")
  .description("Revoke a token by id (revoking a revoked token succeeds again)")
  .argument("<id>", "tok_…")
  .addOption(adminOption())
  .action(async (id: string, options: { adminToken?: string }) => {
    await withProgress("revoking", adminClient(options.adminToken).tokens.revoke(id));
    process.stderr.write(`revoked ${id}\n`);
  });

program
  .command("status")
  .description("Health of every hop; exits 5 when any is degraded")
  .option("--json", "the report as JSON")
  .action(async (options: { json?: boolean }) => {
    const report = await withProgress("checking", client(undefined).status());
    if (options.json) printJson(report);
    else {
      const rows = Object.entries(report.checks).map(([name, check]) => {
        const c = check as { ok: boolean; latencyMs?: number };
        return [
          name,
          c.ok ? style.green("ok") : style.red("failing"),
          c.latencyMs === undefined ? "" : `${c.latencyMs} ms`,
        ];
      });
      process.stdout.write(`${table([["CHECK", "STATE", "LATENCY"], ...rows])}\n${report.status}\n`);
    }
    if (report.status !== "ok") process.exitCode = EXIT.unavailable;
  });

program
  .command("login")
  .description("Store the edge URL and a token in the config file (mode 0600)")
  .addHelpText(
    "after",
    `
The token comes from --token, CHITTYCONNECT_TOKEN, or the first line of stdin (so it never has to be in
argv or shell history: chittyconnect login --url … < token.txt). The file is CHITTYCONNECT_CONFIG, else
$XDG_CONFIG_HOME/chittyconnect/config.json, else ~/.config/chittyconnect/config.json.`,
  )
  .action(async () => {
    const options = globals();
    const url = options.url ?? (env.CHITTYCONNECT_URL || undefined);
    if (!url) throw new UsageError("login needs --url (or CHITTYCONNECT_URL)");
    const token = options.token ?? (env.CHITTYCONNECT_TOKEN || undefined) ?? (await firstLineOfStdin());
    if (!token) throw new UsageError("no token: pass it on stdin, in CHITTYCONNECT_TOKEN, or with --token");
    const edge = createClient({ baseUrl: url, token, timeoutMs: options.timeout, retries: options.retries });
    // A 403 (the token lacks the audit scopes) still proves the token is known; a 401 does not.
    try {
      await withProgress("checking the token", edge.credentials.audit({ limit: 1 }));
    } catch (error) {
      if (!(error instanceof ChittyProblemError && error.status === 403)) throw error;
    }
    const file = configPath(env);
    writeConfig(file, { url: url.replace(/\/+$/, ""), token });
    process.stderr.write(`saved ${file}\n`);
  });

program
  .command("logout")
  .description("Delete the config file login wrote")
  .action(() => {
    const file = configPath(env);
    process.stderr.write(removeConfig(file) ? `removed ${file}\n` : `no config at ${file}\n`);
  });

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    throw new UsageError(
      `cannot read the ${what} ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
}

async function firstLineOfStdin(): Promise<string | undefined> {
  if (process.stdin.isTTY) return undefined;
  let text = "";
  for await (const chunk of process.stdin) {
    text += chunk;
    if (text.includes("\n") || text.length > 4096) break;
  }
  return text.split(/\r?\n/)[0]?.trim() || undefined;
}

try {
  await program.parseAsync();
} catch (error) {
  process.stderr.write(`${errorLine(error)}\n`);
  process.exitCode = exitCodeFor(error);
}
