import { readFileSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { MAX_SECRET_FILE_BYTES } from "../../origin/src/config.ts";
import { mountedSecrets, serviceUser } from "./compose.ts";
import { interpolate, isObject } from "./compose-files.ts";
import { type SectionResult, section } from "./report.ts";

/** What each secret file must hold, where the shape is known; the origin's go through its schema. */
const CONTENT_CHECKS: Record<string, (text: string) => string | undefined> = {
  op_credentials: (text) =>
    isObject(parseJson(text)) ? undefined : "is not the JSON file `op connect server create` writes",
  cloudflare_tunnel_token: (text) => {
    const fields = parseJson(Buffer.from(text.trim(), "base64").toString("utf8"));
    return isObject(fields) && ["a", "t", "s"].every((key) => typeof fields[key] === "string")
      ? undefined
      : "is not a tunnel token (the base64 text the dashboard or `cloudflared tunnel token` prints)";
  },
  cloudflared_credentials: (text) => {
    const fields = parseJson(text);
    return isObject(fields) &&
      ["AccountTag", "TunnelSecret", "TunnelID"].every((key) => typeof fields[key] === "string")
      ? undefined
      : "is not the <TUNNEL_ID>.json `cloudflared tunnel create` writes";
  },
};

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Host path of every file secret in the merged compose document, as compose resolves it. */
export function secretFiles(
  doc: unknown,
  env: Readonly<Record<string, string>>,
  baseDir: string,
): Map<string, string> {
  const files = new Map<string, string>();
  const secrets = isObject(doc) && isObject(doc.secrets) ? doc.secrets : {};
  for (const [name, secret] of Object.entries(secrets)) {
    if (!isObject(secret) || typeof secret.file !== "string") continue;
    const path = interpolate(secret.file, env);
    files.set(name, isAbsolute(path) ? path : resolve(baseDir, path));
  }
  return files;
}

/** Can this uid:gid read a file with this owner, group and mode (as the kernel decides, no ACLs)? */
export function canRead(
  user: { uid: number; gid: number },
  file: { uid: number; gid: number; mode: number },
): boolean {
  if (user.uid === 0) return true;
  if (file.uid === user.uid) return (file.mode & 0o400) !== 0;
  if (file.gid === user.gid) return (file.mode & 0o040) !== 0;
  return (file.mode & 0o004) !== 0;
}

/**
 * Each secret file exists, is readable by the user of every service that mounts it (compose
 * bind-mounts the host file with its owner, group and mode) and by nobody else, and holds what
 * that service expects.
 */
export function checkSecretFiles(
  doc: unknown,
  env: Readonly<Record<string, string>>,
  baseDir: string,
): SectionResult {
  const result = section("secrets");
  const services = isObject(doc) && isObject(doc.services) ? doc.services : {};
  let files: Map<string, string>;
  try {
    files = secretFiles(doc, env, baseDir);
  } catch (error) {
    result.errors.push((error as Error).message);
    return result;
  }
  for (const [name, path] of files) {
    const readers = Object.entries(services).filter(([, service]) => mountedSecrets(service).has(name));
    if (readers.length === 0) continue;
    const where = `${name} (${path})`;
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(path);
      if (!stat.isFile()) throw new Error("not a regular file");
      if (stat.size > MAX_SECRET_FILE_BYTES) throw new Error(`larger than ${MAX_SECRET_FILE_BYTES} bytes`);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      result.errors.push(`${where}: cannot use it: ${reason}`);
      continue;
    }
    const file = { uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o777 };
    for (const [service, definition] of readers) {
      const user = serviceUser(definition);
      if (user === undefined || canRead(user, file)) continue;
      result.errors.push(
        `${where}: ${service} runs as ${user.uid}:${user.gid} and cannot read it (owner ${file.uid}, group ${file.gid}, mode ${file.mode.toString(8).padStart(4, "0")}); sudo chgrp ${user.gid} ${path} && chmod 440 ${path}`,
      );
    }
    if ((file.mode & 0o007) !== 0) result.warnings.push(`${where}: readable by every user; chmod o-rwx it`);
    const check = CONTENT_CHECKS[name];
    if (check === undefined) continue;
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      result.errors.push(
        `${where}: cannot read it to check it: ${(error as NodeJS.ErrnoException).code ?? "error"}`,
      );
      continue;
    }
    const problem = check(text);
    if (problem) result.errors.push(`${where}: ${problem}`);
  }
  return result;
}
