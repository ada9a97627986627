import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningStack, repoRoot, startStack } from "../support/stack.ts";

/** Debian's chromium (`.ci/run` installs it); playwright-core drives it and downloads nothing. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
// In CI a missing browser is a failure (the launch below throws); on a developer's machine, a skip that says why.
const skipBrowser = !haveChromium && !process.env.CI;
if (skipBrowser)
  console.warn(`docs e2e: ${CHROMIUM} not found, the browser test is skipped (apt-get install chromium)`);

const METHODS = new Set(["get", "put", "post", "delete", "patch", "options", "head", "trace"]);

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
}

let stack: RunningStack;
let doc: OpenApiDocument;

beforeAll(async () => {
  stack = await startStack();
  const response = await fetch(`${stack.edgeUrl}/api/v1/openapi.json`);
  expect(response.status).toBe(200);
  doc = (await response.json()) as OpenApiDocument;
});

afterAll(async () => {
  await stack?.stop();
});

/** `METHOD /path` of every operation in the served document, sorted. */
function operations(): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) =>
      Object.keys(item)
        .filter((method) => METHODS.has(method))
        .map((method) => `${method.toUpperCase()} ${path}`),
    )
    .sort();
}

describe("the served OpenAPI document", () => {
  it("is valid OpenAPI 3.1 by the standard schema validator", async () => {
    expect(doc.openapi).toBe("3.1.0");
    const result = await new Validator().validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result).toMatchObject({ valid: true });
  });
});

describe.skipIf(skipBrowser)("/docs in headless Chromium", () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("renders every operation from the Worker's own files under its CSP, and runs a request", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    const foreign: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("response", (answer) => {
      if (answer.status() >= 400) problems.push(`${answer.status()} ${answer.url()}`);
    });
    page.on("request", (request) => {
      if (!request.url().startsWith(stack.edgeUrl) && !request.url().startsWith("data:")) {
        foreign.push(request.url());
      }
    });
    // Runs before any page script and outside the page's CSP: records what the policy refused.
    await page.addInitScript({
      content: `document.addEventListener("securitypolicyviolation", (e) =>
        console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI));`,
    });

    const response = await page.goto(`${stack.edgeUrl}/docs`);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");

    const expected = operations();
    const rendered = page.locator(".opblock");
    await expect.poll(() => rendered.count(), { timeout: 30_000 }).toBe(expected.length);
    const shown = await rendered.evaluateAll((blocks) =>
      blocks.map((block) => {
        const method = block.querySelector(".opblock-summary-method")?.textContent ?? "";
        const path = block.querySelector(".opblock-summary-path")?.getAttribute("data-path") ?? "";
        return `${method.toUpperCase()} ${path}`;
      }),
    );
    expect(shown.sort()).toEqual(expected);

    // One request from the page: GET /api/v1/status → Try it out → Execute → its 200 in the page.
    const status = page
      .locator(".opblock-get")
      .filter({ has: page.locator('.opblock-summary-path[data-path="/api/v1/status"]') });
    await status.locator(".opblock-summary-control").click();
    await status.locator("button.try-out__btn").click();
    await status.locator("button.execute").click();
    const live = status.locator(".live-responses-table tr.response .response-col_status");
    await expect.poll(() => live.first().textContent(), { timeout: 30_000 }).toContain("200");
    await expect
      .poll(() => status.locator(".live-responses-table .microlight").first().textContent())
      .toContain('"checks"');

    mkdirSync(join(repoRoot, "test", "artifacts"), { recursive: true });
    await page.screenshot({ path: join(repoRoot, "test", "artifacts", "docs.png"), fullPage: false });

    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
  });
});
