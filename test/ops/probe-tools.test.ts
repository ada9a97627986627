import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseComposeText } from "../../scripts/deploy-checks/compose-files.ts";

/**
 * The probe-tools service copies busybox into a volume that the Connect health checks execute.
 * Restarting it while a health check runs that copy used to fail with "text file busy". Here the
 * compose command itself runs under /bin/sh, with `/bin/busybox` and `/probe` pointed at a
 * directory of this test, while a program is executing from the target path.
 */
const compose = parseComposeText(
  readFileSync(new URL("../../docker-compose.yml", import.meta.url), "utf8"),
) as { services: Record<string, { command: string[] }> };
const [shell, flag, script = ""] = compose.services["probe-tools"]?.command ?? [];
// Any executable will do as "busybox": one that can run for a while, `sleep`.
const SLEEP = execFileSync("sh", ["-c", "command -v sleep"]).toString().trim();

describe("probe-tools' copy into the shared volume", () => {
  let dir: string;
  let running: ChildProcess | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "chitty-probe-tools-"));
    mkdirSync(join(dir, "bin"));
    mkdirSync(join(dir, "probe"));
    copyFileSync(SLEEP, join(dir, "bin/busybox"));
  });
  afterAll(() => {
    running?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  const here = (text: string) =>
    text.replaceAll("/bin/busybox", join(dir, "bin/busybox")).replaceAll("/probe/", `${join(dir, "probe")}/`);
  const run = (text: string) => spawnSync("/bin/sh", ["-c", text], { encoding: "utf8" });

  it("is a shell command", () => {
    expect([shell, flag]).toEqual(["sh", "-c"]);
  });

  it("replaces a busybox that is executing at that moment, where a plain cp fails with text file busy", async () => {
    expect(run(here(script)).status).toBe(0);
    running = spawn(join(dir, "probe/busybox"), ["30"], { stdio: "ignore" });
    await new Promise((resolve) => running?.once("spawn", resolve));

    const plain = run(here("cp /bin/busybox /probe/busybox"));
    expect(plain.status).not.toBe(0);
    expect(plain.stderr).toMatch(/Text file busy/i);

    const again = run(here(script));
    expect(again.stderr).toBe("");
    expect(again.status).toBe(0);
    expect(running.exitCode).toBeNull();
  });
});
