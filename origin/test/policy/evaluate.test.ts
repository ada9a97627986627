import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { evaluatePolicy, matchPath, matchSegment, type PolicyRequest } from "../../src/policy/evaluate.ts";
import { loadPolicyFile } from "../../src/policy/load.ts";
import type { Policy, PolicyRule } from "../../src/policy/schema.ts";

const FIXTURE = new URL("../../fixtures/policy.yaml", import.meta.url).pathname;

const request = (overrides: Partial<PolicyRequest> = {}): PolicyRequest => ({
  owner: "01-C-PROD-0001-P-2501-A-X",
  service: "chittyrouter",
  grantedServices: ["*"],
  action: "provision",
  path: "services/chittyid/service_token",
  purpose: "boot",
  ...overrides,
});

const rule = (overrides: Partial<PolicyRule> = {}): PolicyRule => ({
  owners: ["*"],
  services: ["*"],
  actions: ["provision"],
  paths: ["services/*/*"],
  purposes: ["*"],
  ...overrides,
});

describe("the development policy fixture", () => {
  const policy = loadPolicyFile(FIXTURE);

  it("lets any owner provision the chittyid service token and anything in services/*/*", () => {
    expect(evaluatePolicy(policy, request())).toEqual({ allowed: true, rule: 0 });
    expect(
      evaluatePolicy(policy, request({ owner: "someone-else", path: "services/chittyrouter+beta/api_key" })),
    ).toMatchObject({ allowed: true });
  });

  it("allows rotation only inside services", () => {
    expect(
      evaluatePolicy(policy, request({ action: "rotate", path: "services/chittyauth/api_key" })),
    ).toEqual({
      allowed: true,
      rule: 1,
    });
    expect(evaluatePolicy(policy, request({ action: "rotate", path: "integrations/github/token" }))).toEqual({
      allowed: false,
      reason: "no_rule",
    });
  });

  it("grants nothing in emergency to anyone", () => {
    for (const action of ["provision", "rotate"] as const) {
      expect(evaluatePolicy(policy, request({ action, path: "emergency/break-glass/password" }))).toEqual({
        allowed: false,
        reason: "no_rule",
      });
    }
  });
});

describe("evaluatePolicy", () => {
  it("matches a rule's services only against the services the token is bound to", () => {
    const policy: Policy = { version: 1, rules: [rule({ services: ["chittyauth"] })] };
    const bound = request({ service: "chittyauth", grantedServices: ["chittyauth", "chittyid"] });
    expect(evaluatePolicy(policy, bound)).toEqual({ allowed: true, rule: 0 });
    // The caller names a service a rule allows, but its token is bound to another one.
    expect(evaluatePolicy(policy, { ...bound, grantedServices: ["chittyid"] })).toEqual({
      allowed: false,
      reason: "service_not_granted",
    });
    // A token bound to no service (minted before binding existed) reaches no rule, even "*".
    const open: Policy = { version: 1, rules: [rule()] };
    expect(evaluatePolicy(open, { ...bound, grantedServices: [] })).toEqual({
      allowed: false,
      reason: "service_not_granted",
    });
    expect(evaluatePolicy(open, { ...bound, grantedServices: ["*"] })).toEqual({ allowed: true, rule: 0 });
  });

  it("never allows a service outside the token's list, whatever the rules say", () => {
    const serviceArb = fc.constantFrom("chittyid", "chittyauth", "billing", "router");
    fc.assert(
      fc.property(
        serviceArb,
        fc.uniqueArray(serviceArb, { maxLength: 3 }),
        fc.array(fc.uniqueArray(fc.oneof(fc.constant("*"), serviceArb), { minLength: 1, maxLength: 3 }), {
          maxLength: 4,
        }),
        (service, granted, ruleServices) => {
          const policy: Policy = { version: 1, rules: ruleServices.map((services) => rule({ services })) };
          const decision = evaluatePolicy(policy, request({ service, grantedServices: granted }));
          if (!granted.includes(service)) {
            expect(decision).toEqual({ allowed: false, reason: "service_not_granted" });
          }
        },
      ),
    );
  });

  it("denies by default", () => {
    expect(evaluatePolicy({ version: 1, rules: [] }, request())).toEqual({
      allowed: false,
      reason: "no_rule",
    });
  });

  it("requires every dimension of one rule to match", () => {
    const policy: Policy = {
      version: 1,
      rules: [rule({ owners: ["alice-01"], services: ["chittyauth"], purposes: ["ci"] })],
    };
    const allowed = request({ owner: "alice-01", service: "chittyauth", purpose: "ci" });
    expect(evaluatePolicy(policy, allowed)).toEqual({ allowed: true, rule: 0 });
    expect(evaluatePolicy(policy, { ...allowed, owner: "bob-0001" })).toEqual({
      allowed: false,
      reason: "no_rule",
    });
    expect(evaluatePolicy(policy, { ...allowed, service: "chittyid" })).toEqual({
      allowed: false,
      reason: "no_rule",
    });
    expect(evaluatePolicy(policy, { ...allowed, purpose: "other" })).toEqual({
      allowed: false,
      reason: "no_rule",
    });
    expect(evaluatePolicy(policy, { ...allowed, action: "rotate" })).toEqual({
      allowed: false,
      reason: "no_rule",
    });
    expect(evaluatePolicy(policy, { ...allowed, path: "integrations/x/y" })).toEqual({
      allowed: false,
      reason: "no_rule",
    });
  });

  it("reports the first matching rule", () => {
    const policy: Policy = { version: 1, rules: [rule({ paths: ["other/*/*"] }), rule(), rule()] };
    expect(evaluatePolicy(policy, request())).toEqual({ allowed: true, rule: 1 });
  });
});

describe("path patterns", () => {
  it.each([
    ["services/*/*", "services/chittyid/service_token", true],
    ["services/*/*", "services/a/b/c", false],
    ["services/**", "services/a/b/c", true],
    ["services/**", "services", true],
    ["**/api_key", "integrations/github/api_key", true],
    ["services/chitty*/api_key", "services/chittyrouter beta/api_key", true],
    ["services/chitty*/api_key", "services/other/api_key", false],
    ["services/*beta/api_key", "services/chittyrouter+beta/api_key", true],
    ["services/a*b*c/x", "services/abc/x", true],
    ["services/a*b*c/x", "services/acb/x", false],
    ["services/chittyid/service_token", "services/chittyid/service_token", true],
    ["services/chittyid/service_token", "services/chittyid/service_tokens", false],
    ["services/.*/x", "services/anything/x", false],
  ])("%s matches %s: %s", (pattern, path, expected) => {
    expect(matchPath(pattern, path)).toBe(expected);
  });

  const segment = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes("/"));
  const globSegment = fc
    .array(
      fc.oneof(
        segment.filter((s) => !s.includes("*")),
        fc.constant("*"),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((parts) => parts.join(""))
    .filter((s) => s !== "**" && !s.includes("**"));

  it("a pattern without ** matches only paths with the same number of segments", () => {
    fc.assert(
      fc.property(
        fc.array(globSegment, { minLength: 1, maxLength: 4 }),
        fc.array(segment, { maxLength: 6 }),
        (p, s) => {
          if (matchPath(p.join("/"), s.join("/"))) expect(s.join("/").split("/").length).toBe(p.length);
        },
      ),
    );
  });

  it("* inside a segment never spans a /", () => {
    fc.assert(
      fc.property(segment, segment, (a, b) => {
        expect(matchSegment("*", `${a}/${b}`)).toBe(true);
        expect(matchPath("*", `${a}/${b}`)).toBe(false);
      }),
    );
  });

  it("a literal pattern matches exactly its own text", () => {
    fc.assert(
      fc.property(
        fc.array(
          segment.filter((s) => !s.includes("*")),
          { minLength: 1, maxLength: 4 },
        ),
        segment,
        (p, extra) => {
          const literal = p.join("/");
          expect(matchPath(literal, literal)).toBe(true);
          if (extra !== p[p.length - 1])
            expect(matchPath(literal, [...p.slice(0, -1), extra].join("/"))).toBe(false);
        },
      ),
    );
  });

  it("a glob segment agrees with a reference regular expression", () => {
    fc.assert(
      fc.property(globSegment, segment, (pattern, text) => {
        const escaped = pattern.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
        const reference = new RegExp(`^${escaped.join(".*")}$`, "s");
        expect(matchSegment(pattern, text)).toBe(reference.test(text));
      }),
    );
  });
});

describe("policy properties", () => {
  const owner = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{2,20}$/);
  const service = fc.constantFrom("chittyid", "chittyauth", "chittyrouter");
  const action = fc.constantFrom("provision" as const, "rotate" as const);
  const path = fc.constantFrom("services/chittyid/service_token", "emergency/break-glass/password", "a/b/c");
  const pattern = fc.constantFrom("services/*/*", "**", "emergency/**", "a/*/c", "*/*/*");
  const ruleArb = fc.record({
    owners: fc.array(fc.oneof(owner, fc.constant("*")), { minLength: 1, maxLength: 3 }),
    services: fc.array(fc.oneof(service, fc.constant("*")), { minLength: 1, maxLength: 2 }),
    actions: fc.uniqueArray(action, { minLength: 1, maxLength: 2 }),
    paths: fc.array(pattern, { minLength: 1, maxLength: 2 }),
    purposes: fc.array(fc.constantFrom("*", "boot", "ci"), { minLength: 1, maxLength: 2 }),
  });
  const requestArb = fc.record({
    owner,
    service,
    grantedServices: fc.constant(["*"]),
    action,
    path,
    purpose: fc.constantFrom("boot", "ci", "other"),
  });

  it("a denied request stays denied when rules for other (named) owners are added", () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { maxLength: 5 }),
        fc.array(ruleArb, { maxLength: 5 }),
        requestArb,
        (rules, extra, req) => {
          const policy: Policy = { version: 1, rules };
          fc.pre(!evaluatePolicy(policy, req).allowed);
          const others = extra.map((r) => ({
            ...r,
            owners: r.owners.filter((o) => o !== "*" && o !== req.owner),
          }));
          const withOthers = others.filter((r) => r.owners.length > 0);
          expect(evaluatePolicy({ version: 1, rules: [...rules, ...withOthers] }, req)).toEqual({
            allowed: false,
            reason: "no_rule",
          });
        },
      ),
    );
  });

  it("adding rules never revokes an allowed request", () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { maxLength: 5 }),
        fc.array(ruleArb, { maxLength: 5 }),
        requestArb,
        (rules, extra, req) => {
          fc.pre(evaluatePolicy({ version: 1, rules }, req).allowed);
          expect(evaluatePolicy({ version: 1, rules: [...rules, ...extra] }, req).allowed).toBe(true);
        },
      ),
    );
  });

  it("an allowed decision names a rule that matches on its own", () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 5 }), requestArb, (rules, req) => {
        const decision = evaluatePolicy({ version: 1, rules }, req);
        if (decision.allowed) {
          const only = rules[decision.rule] as PolicyRule;
          expect(evaluatePolicy({ version: 1, rules: [only] }, req)).toEqual({ allowed: true, rule: 0 });
        }
      }),
    );
  });
});
