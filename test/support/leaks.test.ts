import { describe, expect, it } from "vitest";
import { findLeaks, withoutBanner } from "./stack.ts";

const RULE = "━".repeat(20);

describe("the end-to-end secret guard", () => {
  const secrets = new Map([
    ["ADMIN_TOKEN", "adm_0123456789abcdef"],
    ["minted token #1", "cc_abcdefghijklmnop"],
  ]);

  it("names each line that carries a secret, without the value", () => {
    const output = 'origin │ {"msg":"request"}\nedge   │ GET /x?t=cc_abcdefghijklmnop\nstack  │ ok';
    expect(findLeaks("output", output, secrets)).toEqual(["output:2: minted token #1"]);
  });

  it("exempts the start-up banner, and only the banner", () => {
    const output = [
      "stack  │ starting",
      RULE,
      " Mint more tokens: -H 'Authorization: Bearer adm_0123456789abcdef'",
      RULE,
      "origin │ leaked adm_0123456789abcdef",
    ].join("\n");
    const leaks = findLeaks("output", withoutBanner(output), secrets);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toContain("ADMIN_TOKEN");
  });
});
